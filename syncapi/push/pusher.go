package push

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// ErrInvalidPusher: a pusher's data breaks the spec.
var ErrInvalidPusher = errors.New("invalid pusher")

// Pusher kinds (client-server API, POST /pushers/set).
const (
	KindHTTP  = "http"
	KindEmail = "email"
)

// NotifyPath is the path every HTTP pusher's URL must have (push gateway
// API, POST /_matrix/push/v1/notify).
const NotifyPath = "/_matrix/push/v1/notify"

// FormatEventIDOnly is the one data.format the spec defines: send only the
// event id, room id, counts and devices.
const FormatEventIDOnly = "event_id_only"

// PusherData is the part of an HTTP pusher's data the server reads; the
// rest is forwarded to the gateway as it is.
type PusherData struct {
	URL    string
	Format string
	// Forward is data without url, as sent to the gateway.
	Forward map[string]json.RawMessage
}

// ParsePusherData reads and checks the data of an HTTP pusher: a JSON
// object whose url is an http(s) URL with the path NotifyPath and whose
// format, if present, is FormatEventIDOnly. Errors wrap ErrInvalidPusher.
func ParsePusherData(data json.RawMessage) (PusherData, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return PusherData{}, fmt.Errorf("%w: data must be an object", ErrInvalidPusher)
	}
	var out PusherData
	raw, ok := fields["url"]
	if !ok {
		return PusherData{}, fmt.Errorf("%w: data.url is required for http pushers", ErrInvalidPusher)
	}
	if json.Unmarshal(raw, &out.URL) != nil {
		return PusherData{}, fmt.Errorf("%w: data.url must be a string", ErrInvalidPusher)
	}
	u, err := url.Parse(out.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.Path != NotifyPath || u.Fragment != "" {
		return PusherData{}, fmt.Errorf("%w: data.url must be an http(s) URL with the path %s", ErrInvalidPusher, NotifyPath)
	}
	if raw, ok := fields["format"]; ok {
		if json.Unmarshal(raw, &out.Format) != nil || out.Format != FormatEventIDOnly {
			return PusherData{}, fmt.Errorf("%w: data.format must be %q", ErrInvalidPusher, FormatEventIDOnly)
		}
	}
	delete(fields, "url")
	out.Forward = fields
	return out, nil
}
