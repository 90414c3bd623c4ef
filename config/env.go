package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// envPrefix starts every environment variable the configuration reads.
const envPrefix = "GANGLION_"

// envAliases are short environment names for the most used options, keyed
// by the option's yaml path. They win over the generic names.
var envAliases = []struct{ name, key string }{
	{"GANGLION_DATA_DIR", "data_dir"},
	{"GANGLION_SERVER_NAME", "server_name"},
	{"GANGLION_LISTEN", "listeners.client.address"},
	{"GANGLION_DATABASE", "database.url"},
	{"GANGLION_REGISTRATION", "registration.mode"},
	{"GANGLION_REGISTRATION_SHARED_SECRET", "registration.shared_secret"},
	{"GANGLION_RATE_LIMIT", "rate_limit.enabled"},
	{"GANGLION_LOG_LEVEL", "log.level"},
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

// option is one leaf of the configuration tree.
type option struct {
	path  []string      // yaml keys from the root, e.g. listeners, client, address
	value reflect.Value // settable
}

// key is the option's yaml path joined with dots, e.g. "log.level".
func (o option) key() string { return strings.Join(o.path, ".") }

// envName is the generic environment variable for the option.
func (o option) envName() string {
	return envPrefix + strings.ToUpper(strings.Join(o.path, "_"))
}

// options returns every leaf option of c, in declaration order.
func (c *Config) options() []option {
	var out []option
	collectOptions(reflect.ValueOf(c).Elem(), nil, &out)
	return out
}

func collectOptions(v reflect.Value, path []string, out *[]option) {
	t := v.Type()
	for i := range t.NumField() {
		key := yamlKey(t.Field(i))
		if key == "" {
			continue
		}
		p := append(slices.Clone(path), key)
		if f := v.Field(i); f.Kind() == reflect.Struct {
			collectOptions(f, p, out)
		} else {
			*out = append(*out, option{path: p, value: f})
		}
	}
}

// yamlKey is the key yaml.v3 uses for a struct field, "" if it skips it.
func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return strings.ToLower(f.Name)
	}
	return name
}

// envNames lists the environment variables that set o, generic name first.
func envNames(o option) []string {
	names := []string{o.envName()}
	for _, a := range envAliases {
		if a.key == o.key() && a.name != o.envName() {
			names = append(names, a.name)
		}
	}
	return names
}

// ApplyEnv overrides options from environ, a list of "NAME=value" strings
// as os.Environ returns. Every option has a generic name: GANGLION_ and its
// yaml path joined with "_", upper-cased (GANGLION_LOG_LEVEL,
// GANGLION_LISTENERS_CLIENT_ADDRESS); lists are comma-separated, durations
// are Go durations ("5m"), booleans are on/off, true/false, yes/no or 1/0.
// The aliases in envAliases win over the generic names. Other variables,
// including unknown GANGLION_ ones, are ignored.
//
// Every value that cannot be parsed is reported, naming its variable; the
// others are still applied.
func (c *Config) ApplyEnv(environ []string) error {
	env := make(map[string]string)
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, envPrefix) {
			env[name] = value
		}
	}
	var errs []error
	byKey := make(map[string]option)
	for _, o := range c.options() {
		byKey[o.key()] = o
		if s, ok := env[o.envName()]; ok {
			errs = append(errs, setEnv(o.value, o.envName(), s))
		}
	}
	for _, a := range envAliases {
		o, known := byKey[a.key]
		if s, ok := env[a.name]; ok && known && a.name != o.envName() {
			errs = append(errs, setEnv(o.value, a.name, s))
		}
	}
	return errors.Join(errs...)
}

func setEnv(v reflect.Value, name, s string) error {
	if err := setValue(v, s); err != nil {
		return fmt.Errorf("environment %s: %w", name, err)
	}
	return nil
}

// setValue parses s into v according to v's type. Errors quote s only for
// types that cannot hold a secret.
func setValue(v reflect.Value, s string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 90s, 5m or 1h30m", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, ok := parseBool(s)
		if !ok {
			return fmt.Errorf("%q is not on, off, true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
		if err != nil {
			return fmt.Errorf("%q is not an integer from %d to %d", s, int64(-1)<<(bits-1), int64(1)<<(bits-1)-1)
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, bits)
		if err != nil {
			return fmt.Errorf("%q is not an integer from 0 to %d", s, uint64(math.MaxUint64)>>(64-bits))
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("options of type %s cannot be set from the environment", v.Type())
		}
		v.Set(reflect.ValueOf(splitList(s)).Convert(v.Type()))
	default:
		return fmt.Errorf("options of type %s cannot be set from the environment", v.Type())
	}
	return nil
}

func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "true", "yes", "1":
		return true, true
	case "off", "false", "no", "0":
		return false, true
	}
	return false, false
}

// splitList splits a comma-separated list, dropping spaces around items and
// empty items. The result is never nil, like a YAML "[]".
func splitList(s string) []string {
	items := []string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}
