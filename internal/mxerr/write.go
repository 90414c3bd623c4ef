package mxerr

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Internal is the body sent for any error that is not an *Error: the client
// learns nothing about the cause, which the caller logs.
var Internal = New(http.StatusInternalServerError, "M_UNKNOWN", "internal server error")

// Write sends err as a Matrix error response. It reports whether err was a
// Matrix error; if it was not, the client got a 500 and the caller must log
// err.
func Write(w http.ResponseWriter, err error) bool {
	var mx *Error
	matrix := errors.As(err, &mx)
	if !matrix {
		mx = Internal
	}
	body, _ := json.Marshal(mx.Body())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(mx.Status)
	_, _ = w.Write(body)
	return matrix
}
