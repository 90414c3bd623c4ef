package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// loadSpec is a measured phase: workers goroutines, each a client making
// one request after the other, as real clients do.
type loadSpec struct {
	name     string
	roomSize int // reported with the result, 0 if not about one room
	workers  int
	// count is the number of requests of worker w. If timed, -duration
	// (workers go on until the time is up instead) and -rate (workers
	// pace their requests) apply.
	count func(w int) int
	timed bool
	// op makes request i of worker w and returns the time of its exchange.
	op func(ctx context.Context, w, i int) (time.Duration, error)
}

// evenShare splits n requests over workers: the count of worker w.
func evenShare(n, workers int) func(w int) int {
	return func(w int) int {
		c := n / workers
		if w < n%workers {
			c++
		}
		return c
	}
}

// load runs a measured phase and adds its result to the report. Failed
// requests are counted and their errors kept; the phase ends early only if
// ctx does, and then load returns ctx's error.
func (b *bench) load(ctx context.Context, s loadSpec) error {
	fmt.Fprintf(b.progress, "bench: measuring %s...\n", s.name)
	var p pacing
	if s.timed && b.opts.Duration > 0 {
		p.deadline = time.Now().Add(b.opts.Duration)
	}
	if s.timed && b.opts.Rate > 0 {
		p.interval = time.Duration(float64(s.workers) / b.opts.Rate * float64(time.Second))
	}
	cpu := b.sampleCPU()
	lats := make([][]time.Duration, s.workers)
	errs := make([]int, s.workers)
	p.start = time.Now()
	var wg sync.WaitGroup
	for w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lats[w], errs[w] = b.worker(ctx, s, w, p)
		}()
	}
	wg.Wait()
	elapsed := time.Since(p.start)
	res := benchResult{Name: s.name, RoomSize: s.roomSize, Seconds: roundSeconds(elapsed)}
	var all []time.Duration
	for w := range s.workers {
		all = append(all, lats[w]...)
		res.Errors += errs[w]
	}
	res.Count = len(all)
	res.PerSecond = perSecond(res.Count, elapsed)
	res.setLatencies(all)
	cpu.finish(b, &res)
	b.report.Results = append(b.report.Results, res)
	return ctx.Err()
}

// pacing is when a phase started and, if set, when it ends (-duration)
// and the time between the requests of one worker (-rate).
type pacing struct {
	start, deadline time.Time
	interval        time.Duration
}

// worker is client w of a measured phase: it makes its requests one after
// the other and returns the latencies of those that succeeded and the
// number that failed.
func (b *bench) worker(ctx context.Context, s loadSpec, w int, p pacing) (lats []time.Duration, errs int) {
	n := s.count(w)
	offset := p.interval * time.Duration(w) / time.Duration(s.workers)
	for i := 0; ctx.Err() == nil; i++ {
		due := p.start.Add(offset + p.interval*time.Duration(i))
		if p.deadline.IsZero() && i >= n || !p.deadline.IsZero() && later(due, time.Now()).After(p.deadline) {
			break
		}
		if p.interval > 0 && !sleepUntil(ctx, due) {
			break
		}
		took, err := s.op(ctx, w, i)
		if late := time.Since(due); p.interval > 0 && late > took {
			took = late // open loop: from when the request was due
		}
		switch {
		case err != nil && ctx.Err() != nil: // interrupted: not the server's failure
		case err != nil:
			errs++
			b.recordError(err)
		default:
			lats = append(lats, took)
		}
	}
	return lats, errs
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// cpuSample is the CPU time of the server and of the bench at the start
// of a phase.
type cpuSample struct {
	server, client time.Duration
	serverOK       bool
}

func (b *bench) sampleCPU() cpuSample {
	var s cpuSample
	s.client, _ = processCPU(os.Getpid())
	if b.opts.PID > 0 {
		var err error
		s.server, err = processCPU(b.opts.PID)
		s.serverOK = err == nil
	}
	return s
}

// finish puts the CPU time used since the sample into the result.
func (s cpuSample) finish(b *bench, res *benchResult) {
	end := b.sampleCPU()
	res.ClientCPU = roundSeconds(end.client - s.client)
	if s.serverOK && end.serverOK {
		v := roundSeconds(end.server - s.server)
		res.ServerCPU = &v
	} else if b.opts.PID > 0 {
		b.recordError(fmt.Errorf("server process %d: cpu time not readable", b.opts.PID))
	}
}
