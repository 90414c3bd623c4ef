package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// configSource is config.go, whose doc comments Generate writes into the
// file.
//
//go:embed config.go
var configSource []byte

const generatedHeader = `Ganglion configuration.

Options left out of this file take the values shown here. Each option can
also be set by the environment variables named below its description; the
environment wins over this file. Durations are written like 90s, 5m or 1h30m.`

// Generate returns c as a YAML configuration file in which every option and
// section carries its doc comment from config.go and the environment
// variables that override it. Load of the result gives back c (after
// Resolve), except that nil lists come back empty. A secret whose *_file
// option is set is written empty, so the file's content is not copied.
func Generate(c *Config) ([]byte, error) {
	if c == nil {
		return nil, errors.New("generate config: nil config")
	}
	docs, err := parseDocs(configSource)
	if err != nil {
		return nil, fmt.Errorf("generate config: %w", err)
	}
	root, err := docs.mapping(reflect.ValueOf(c).Elem(), nil)
	if err != nil {
		return nil, fmt.Errorf("generate config: %w", err)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: comment(generatedHeader), Content: []*yaml.Node{root}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("generate config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("generate config: %w", err)
	}
	return separateOptions(buf.Bytes()), nil
}

// typeDoc is the documentation of one struct type in config.go.
type typeDoc struct {
	doc    string
	fields map[string]string // by Go field name
}

// docs maps a struct type name in config.go to its documentation.
type docs map[string]typeDoc

func parseDocs(src []byte) (docs, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parse config.go: %w", err)
	}
	out := make(docs)
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			doc := ts.Doc
			if doc == nil && len(gd.Specs) == 1 {
				doc = gd.Doc
			}
			td := typeDoc{doc: doc.Text(), fields: make(map[string]string)}
			for _, field := range st.Fields.List {
				for _, name := range field.Names {
					td.fields[name.Name] = field.Doc.Text()
				}
			}
			out[ts.Name.Name] = td
		}
	}
	return out, nil
}

// mapping builds the YAML mapping for the struct v found at path.
func (d docs) mapping(v reflect.Value, path []string) (*yaml.Node, error) {
	m := &yaml.Node{Kind: yaml.MappingNode}
	t := v.Type()
	for i := range t.NumField() {
		key := yamlKey(t.Field(i))
		if key == "" {
			continue
		}
		f := v.Field(i)
		o := option{path: append(append([]string(nil), path...), key), value: f}
		text := d[t.Name()].fields[t.Field(i).Name]
		var value *yaml.Node
		var err error
		if f.Kind() == reflect.Struct {
			if text == "" {
				text = d[f.Type().Name()].doc
			}
			value, err = d.mapping(f, o.path)
		} else {
			text = strings.TrimSpace(text + "\n" + envHint(o))
			if f.Type() == secretType && siblingString(v, key+"_file") != "" {
				f = reflect.Zero(secretType)
			}
			value, err = scalar(f)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.key(), err)
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, HeadComment: comment(text)}
		m.Content = append(m.Content, k, value)
	}
	return m, nil
}

// envHint names the environment variables that set o.
func envHint(o option) string {
	s := "Environment: " + strings.Join(envNames(o), " or ")
	if o.value.Kind() == reflect.Slice {
		s += " (comma-separated)"
	}
	return s
}

// siblingString returns the string field of struct v with the yaml key, or
// "" if there is none.
func siblingString(v reflect.Value, key string) string {
	for i := range v.NumField() {
		if yamlKey(v.Type().Field(i)) == key && v.Field(i).Kind() == reflect.String {
			return v.Field(i).String()
		}
	}
	return ""
}

// scalar builds the YAML node for a leaf option's value.
func scalar(v reflect.Value) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.ScalarNode}
	switch kind := v.Kind(); {
	case v.Type() == durationType:
		n.Tag, n.Value = "!!str", formatDuration(time.Duration(v.Int()))
	case kind == reflect.String:
		n = stringNode(v.String())
	case kind == reflect.Bool:
		n.Value = strconv.FormatBool(v.Bool())
	case v.CanInt():
		n.Value = strconv.FormatInt(v.Int(), 10)
	case v.CanUint():
		n.Value = strconv.FormatUint(v.Uint(), 10)
	case v.CanFloat():
		n.Value = formatFloat(v.Float())
	case kind == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		n.Kind = yaml.SequenceNode
		if v.Len() == 0 {
			n.Style = yaml.FlowStyle
		}
		for i := range v.Len() {
			n.Content = append(n.Content, stringNode(v.Index(i).String()))
		}
	default:
		return nil, fmt.Errorf("cannot write options of type %s", v.Type())
	}
	return n, nil
}

func stringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.ContainsAny(s, "\r\n") {
		// No block scalars: every line of the file stays a comment or an
		// option (see separateOptions).
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// formatDuration is d.String() without zero minutes and seconds: "5m", not
// "5m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return ".nan"
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// comment turns doc text into YAML comment lines.
func comment(text string) string {
	if text = strings.TrimSpace(text); text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight("# "+l, " ")
	}
	return strings.Join(lines, "\n")
}

// separateOptions puts a blank line before each comment that follows an
// option's value, so that options stand apart. Generate writes no block
// scalars, so every line that starts with "#" after indentation is a
// comment.
func separateOptions(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	out := make([]string, 0, len(lines)*2)
	for i, line := range lines {
		if i > 0 && strings.HasPrefix(strings.TrimLeft(line, " "), "#") {
			prev := strings.TrimSpace(lines[i-1])
			if prev != "" && !strings.HasPrefix(prev, "#") && !strings.HasSuffix(prev, ":") {
				out = append(out, "")
			}
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n"))
}
