package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWrite: the body is what json.Marshal writes (HTML characters
// escaped, no trailing newline), small and large, one after the other.
func TestWrite(t *testing.T) {
	for _, v := range []any{
		map[string]any{"a": "<b>&</b>", "n": 1, "l": []int{1, 2}},
		map[string]string{"big": strings.Repeat("x", 2*maxPooledBuffer)},
		struct {
			S string `json:"s"`
		}{S: "\u2028 é"},
		nil,
	} {
		rec := httptest.NewRecorder()
		if err := Write(rec, http.StatusCreated, v); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(v)
		if got := rec.Body.Bytes(); !bytes.Equal(got, want) {
			t.Errorf("got body %.80s, want %.80s", got, want)
		}
		if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("got status %d and Content-Type %q, want 201 and application/json", rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	t.Run("ErrUnencodable", func(t *testing.T) {
		rec := httptest.NewRecorder()
		if err := Write(rec, http.StatusOK, map[string]any{"f": func() {}}); err == nil {
			t.Error("got no error for a func, want one")
		}
		if rec.Body.Len() != 0 {
			t.Errorf("got body %s after an error, want none", rec.Body.Bytes())
		}
	})
}

// appender appends its text, or fails.
type appender struct {
	text string
	err  error
}

func (a appender) AppendJSON(b []byte) ([]byte, error) {
	if a.err != nil {
		return nil, a.err
	}
	return append(b, a.text...), nil
}

// TestWrite_Appender: an Appender's own bytes are the body, small and
// large (past the pooled buffer) one after the other; its error is
// returned and nothing is written.
func TestWrite_Appender(t *testing.T) {
	for _, text := range []string{`{"a":1}`, `{"big":"` + strings.Repeat("y", 2*maxPooledBuffer) + `"}`, `[]`} {
		rec := httptest.NewRecorder()
		if err := Write(rec, http.StatusAccepted, appender{text: text}); err != nil {
			t.Fatal(err)
		}
		if got := rec.Body.String(); got != text {
			t.Errorf("got body %.80s, want %.80s", got, text)
		}
		if rec.Code != http.StatusAccepted || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("got status %d and Content-Type %q, want 202 and application/json", rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	rec := httptest.NewRecorder()
	failed := errors.New("cannot")
	if err := Write(rec, http.StatusOK, appender{err: failed}); !errors.Is(err, failed) {
		t.Errorf("got error %v, want the appender's", err)
	}
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
		t.Errorf("got body %s and headers %v after an error, want none", rec.Body.Bytes(), rec.Header())
	}
}
