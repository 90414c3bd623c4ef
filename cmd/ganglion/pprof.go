package main

import (
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/sirupsen/logrus"
)

// pprofEnv names the address of an optional profiling listener. It is an
// environment variable, not a config option: profiles are for the people
// measuring the server, and the listener must never be exposed by a
// config file copied between installations.
const pprofEnv = "GANGLION_PPROF_LISTEN"

// startPprof serves Go's runtime profiles on the address in pprofEnv, if
// set. The listener lives as long as the process.
func startPprof(log logrus.FieldLogger) {
	addr := os.Getenv(pprofEnv)
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		log.WithField("address", addr).Warn("profiling listener started")
		if err := srv.ListenAndServe(); err != nil {
			log.WithError(err).Error("profiling listener stopped")
		}
	}()
}
