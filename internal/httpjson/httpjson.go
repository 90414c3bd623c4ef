// Package httpjson reads JSON request bodies within size and depth limits
// and writes JSON responses.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/ganglion/ganglion/internal/mxerr"
)

// MaxDepth is the deepest nesting of objects and arrays a request body may
// have. Matrix content is shallow; deep nesting only serves to exhaust the
// decoder.
const MaxDepth = 64

// ReadBody reads the whole request body, refusing bodies over limit bytes
// (M_TOO_LARGE) and bodies that are not JSON (UTF-8 included, RFC 8259) or
// are nested deeper than MaxDepth (M_NOT_JSON). An empty body reads as "{}".
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, mxerr.TooLarge("request body is larger than %d bytes", limit)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, mxerr.NotJSON("could not read request body")
	}
	if int64(len(data)) > limit {
		return nil, mxerr.TooLarge("request body is larger than %d bytes", limit)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return []byte("{}"), nil
	}
	if !json.Valid(data) {
		return nil, mxerr.NotJSON("request body is not valid JSON")
	}
	// encoding/json accepts invalid UTF-8 (mangling it to U+FFFD when
	// decoding), but stored raw it breaks PostgreSQL text columns.
	if !utf8.Valid(data) {
		return nil, mxerr.NotJSON("request body is not valid UTF-8")
	}
	if depth(data) > MaxDepth {
		return nil, mxerr.NotJSON("request body is nested deeper than %d levels", MaxDepth)
	}
	return data, nil
}

// Decode reads the request body as ReadBody does and unmarshals it into v,
// which must be a pointer to a struct or map: the body must be a JSON object.
// A field of the wrong type gives M_BAD_JSON.
func Decode(r *http.Request, limit int64, v any) error {
	data, err := ReadBody(r, limit)
	if err != nil {
		return err
	}
	return Unmarshal(data, v)
}

// Unmarshal decodes an already validated JSON object into v, mapping type
// errors to M_BAD_JSON. Strings holding U+0000 are refused (M_BAD_JSON):
// decoded fields end up in text columns, which PostgreSQL cannot store
// them in.
func Unmarshal(data []byte, v any) error {
	if len(data) == 0 || data[0] != '{' {
		return mxerr.BadJSON("request body must be a JSON object")
	}
	if hasNUL(data) {
		return mxerr.BadJSON("strings must not contain U+0000")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return mxerr.BadJSON("field %q must be of type %s", typeErr.Field, typeErr.Type)
		}
		return mxerr.BadJSON("request body does not match the expected shape")
	}
	return nil
}

// hasNUL reports whether a string in valid JSON holds U+0000, which valid
// JSON can only spell as an escape.
func hasNUL(data []byte) bool {
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		if bytes.HasPrefix(data[i+1:], []byte("u0000")) {
			return true
		}
		i++ // skip the escaped character, so that \\u0000 is not one
	}
	return false
}

// depth returns the deepest nesting of objects and arrays in valid JSON.
func depth(data []byte) int {
	deepest, cur := 0, 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			cur++
			deepest = max(deepest, cur)
		case c == '}' || c == ']':
			cur--
		}
	}
	return deepest
}

// contentType is the Content-Type header's value, shared by every
// response (set, never changed in place).
var contentType = []string{"application/json"}

// Appender is a value that appends its own JSON encoding.
type Appender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// Write sends v as a JSON response with the given status: as v appends
// it if v is an Appender, else encoded as json.Marshal encodes it.
func Write(w http.ResponseWriter, status int, v any) error {
	pooled := buffers.Get().(*[]byte)
	body := (*pooled)[:0]
	defer func() {
		if cap(body) <= maxPooledBuffer {
			*pooled = body[:0] // what grew is kept for the next
			buffers.Put(pooled)
		}
	}()
	if a, ok := v.(Appender); ok {
		out, err := a.AppendJSON(body)
		if err != nil {
			return err
		}
		body = out
	} else {
		buf := bytes.NewBuffer(body)
		if err := json.NewEncoder(buf).Encode(v); err != nil {
			return err
		}
		body = bytes.TrimSuffix(buf.Bytes(), newline) // Encode ends with a newline, Marshal does not
	}
	w.Header()["Content-Type"] = contentType
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// buffers hold encoded responses between requests (json.Marshal would
// allocate each response's bytes anew); those that grew past
// maxPooledBuffer are dropped.
var buffers = sync.Pool{New: func() any {
	b := make([]byte, 0, initialBuffer)
	return &b
}}

// initialBuffer holds most /sync answers of a woken long-poll.
const initialBuffer = 4 << 10

const maxPooledBuffer = 64 << 10

var newline = []byte("\n")
