package main

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ganglion/ganglion/config"
)

// TestJSSDK drives the server with matrix-js-sdk, the SDK Element Web is
// built on (clients/jssdk/smoke.mjs): sync v2 long-polls, a message with
// characters JSON must escape, unread counts and their reset by a read
// receipt, typing and a thread reply. It needs Node.js 20 or later and the
// package's modules (npm ci in clients/jssdk); GANGLION_TEST_JSSDK=1 runs
// it, as .ci/run does once it has installed them.
func TestJSSDK(t *testing.T) {
	if os.Getenv("GANGLION_TEST_JSSDK") == "" {
		t.Skip("GANGLION_TEST_JSSDK is not set: see clients/jssdk")
	}
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", "smoke.mjs")
		cmd.Dir = "../../clients/jssdk"
		cmd.Env = append(os.Environ(), "HS="+srv.URL)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("matrix-js-sdk smoke test: %v\n%s", err, out)
		}
		t.Logf("%s", out)
	})
}
