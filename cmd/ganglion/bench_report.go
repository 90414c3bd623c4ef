package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// benchReport is what a bench run prints: its setup phases, untimed in
// the headline figures, and its measured phases.
type benchReport struct {
	Scenario string         `json:"scenario"`
	URL      string         `json:"url"`
	Params   benchParams    `json:"params"`
	Setup    []benchPhase   `json:"setup"`
	Results  []benchResult  `json:"results"`
	Server   *processMemory `json:"server,omitempty"` // with -pid, at the end of the run
	Errors   []string       `json:"errors,omitempty"` // the first few distinct errors
}

// benchParams are the resolved sizes of a run.
type benchParams struct {
	Users    int `json:"users"`
	Rooms    int `json:"rooms,omitempty"`
	RoomSize int `json:"room_size,omitempty"`
	// Messages is the room's messages (messages scenario), MessagesPerUser
	// what each user sends (rooms, oneroom; 0 if timed).
	Messages        int     `json:"messages,omitempty"`
	MessagesPerUser int     `json:"messages_per_user,omitempty"`
	Requests        int     `json:"requests,omitempty"`
	Concurrency     int     `json:"concurrency"`
	Duration        float64 `json:"duration_seconds,omitempty"`
	Rate            float64 `json:"rate,omitempty"` // requests/s asked for with -rate
}

// benchPhase is a setup phase: registration, room creation, filling.
type benchPhase struct {
	Name      string  `json:"name"`
	Count     int     `json:"count"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	Retries   int     `json:"retries,omitempty"` // steps the server failed (5xx), retried
}

// benchResult is a measured phase: a number of requests of one kind, their
// rate and latency percentiles (milliseconds, successful requests only).
type benchResult struct {
	Name      string  `json:"name"`
	RoomSize  int     `json:"room_size,omitempty"`
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	P50       float64 `json:"p50_ms"`
	P90       float64 `json:"p90_ms"`
	P99       float64 `json:"p99_ms"`
	Max       float64 `json:"max_ms"`
	// ServerCPU is the CPU time the server (-pid) used during the phase,
	// ClientCPU the bench's own: on a shared machine both compete.
	ServerCPU *float64 `json:"server_cpu_seconds,omitempty"`
	ClientCPU float64  `json:"client_cpu_seconds"`
}

// setLatencies fills in the percentiles from the latencies of the
// successful requests (nearest rank).
func (r *benchResult) setLatencies(lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return ms(lat[max(0, i)])
	}
	r.P50, r.P90, r.P99, r.Max = rank(0.50), rank(0.90), rank(0.99), ms(lat[len(lat)-1])
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return math.Round(float64(n)/d.Seconds()*10) / 10
}

// writeJSON prints the report as indented JSON.
func (r *benchReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints the report for people: a line of parameters, the
// setup phases, the measured phases and the server's memory.
func (r *benchReport) writeTable(w io.Writer) error {
	p := r.Params
	fmt.Fprintf(w, "ganglion bench %s on %s: %s\n\n", r.Scenario, r.URL, p)
	// Numbers align right; names are padded to one width to align left.
	width := len("measured")
	for _, s := range r.Setup {
		width = max(width, len(s.Name))
	}
	for _, m := range r.Results {
		width = max(width, len(m.Name))
	}
	name := func(s string) string { return s + strings.Repeat(" ", width-len(s)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tcount\tseconds\t/s\tretries\t\n", name("setup"))
	for _, s := range r.Setup {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.1f\t%d\t\n", name(s.Name), s.Count, s.Seconds, s.PerSecond, s.Retries)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintf(tw, "%s\tsize\tcount\terrors\tseconds\t/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tserver cpu s\tbench cpu s\t\n", name("measured"))
	for _, m := range r.Results {
		size, cpu := "", "-"
		if m.RoomSize > 0 {
			size = strconv.Itoa(m.RoomSize)
		}
		if m.ServerCPU != nil {
			cpu = fmt.Sprintf("%.2f", *m.ServerCPU)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%.2f\t\n",
			name(m.Name), size, m.Count, m.Errors, m.Seconds, m.PerSecond, m.P50, m.P90, m.P99, m.Max, cpu, m.ClientCPU)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Server != nil {
		fmt.Fprintf(w, "\nserver: rss %.1f MB, peak rss %.1f MB\n", mb(r.Server.RSSKiB), mb(r.Server.PeakRSSKiB))
	}
	for _, e := range r.Errors {
		fmt.Fprintln(w, "error:", e)
	}
	return nil
}

func mb(kib int64) float64 { return float64(kib) / 1024 }

func (p benchParams) String() string {
	parts := []string{fmt.Sprintf("%d users", p.Users)}
	switch {
	case p.Rooms == 1:
		parts = append(parts, fmt.Sprintf("1 room of %d", p.RoomSize))
	case p.Rooms > 1:
		parts = append(parts, fmt.Sprintf("%d rooms of %d", p.Rooms, p.RoomSize))
	}
	if p.Messages > 0 {
		parts = append(parts, fmt.Sprintf("%d messages", p.Messages))
	}
	if p.MessagesPerUser > 0 {
		parts = append(parts, fmt.Sprintf("%d messages per user", p.MessagesPerUser))
	}
	if p.Requests > 0 {
		parts = append(parts, fmt.Sprintf("%d requests", p.Requests))
	}
	parts = append(parts, fmt.Sprintf("concurrency %d", p.Concurrency))
	if p.Duration > 0 {
		parts = append(parts, fmt.Sprintf("for %gs", p.Duration))
	}
	if p.Rate > 0 {
		parts = append(parts, fmt.Sprintf("paced at %g/s", p.Rate))
	}
	return strings.Join(parts, ", ")
}

// processMemory is the resident memory of a process, from
// /proc/PID/status.
type processMemory struct {
	RSSKiB     int64 `json:"rss_kib"`
	PeakRSSKiB int64 `json:"peak_rss_kib"`
}

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, 100 on
// every architecture Linux runs Go on.
const userHZ = 100

// processCPU returns the user plus system CPU time a process has used,
// from fields 14 and 15 of /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu time of process %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	_, rest, _ := cutLast(string(data), ")")
	fields := strings.Fields(rest)
	if len(fields) < 13 {
		return 0, fmt.Errorf("read cpu time of process %d: unexpected /proc/%d/stat", pid, pid)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read cpu time of process %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// cutLast is strings.Cut at the last occurrence of sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// readProcessMemory reads VmRSS and VmHWM (peak RSS) of a process.
func readProcessMemory(pid int) (*processMemory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	var m processMemory
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.RSSKiB
		case "VmHWM":
			dst = &m.PeakRSSKiB
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read memory of process %d: %s: %w", pid, name, err)
		}
		*dst = n
	}
	return &m, nil
}
