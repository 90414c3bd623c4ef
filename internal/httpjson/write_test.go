package httpjson

import (
	"bytes"
	"encoding/json"
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
