package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
	"github.com/ganglion/ganglion/syncapi/push"
)

// gateway is a push gateway that records the notify bodies it receives
// and answers each with answer(n), n counting requests from 0.
type gateway struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	answer func(n int) (status int, body string)
}

func newGateway(t *testing.T, answer func(n int) (int, string)) *gateway {
	t.Helper()
	g := &gateway{answer: answer}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if r.URL.Path != push.NotifyPath || json.Unmarshal(raw, &body) != nil {
			t.Errorf("gateway: got %s %s %s, want a JSON notify", r.Method, r.URL.Path, raw)
		}
		g.mu.Lock()
		n := len(g.bodies)
		g.bodies = append(g.bodies, body)
		g.mu.Unlock()
		status, answer := http.StatusOK, `{"rejected":[]}`
		if g.answer != nil {
			status, answer = g.answer(n)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(g.Close)
	return g
}

// received returns the notification objects received so far.
func (g *gateway) received() []map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]map[string]any, len(g.bodies))
	for i, b := range g.bodies {
		out[i], _ = b["notification"].(map[string]any)
	}
	return out
}

// waitRequests waits until the gateway got n requests and returns them.
func (g *gateway) waitRequests(t *testing.T, n int) []map[string]any {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d gateway requests", n), func() bool { return len(g.received()) >= n })
	return g.received()
}

// waitUntil polls cond until it holds or 10 seconds pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mustPusher gives user an http pusher to the gateway.
func mustPusher(t *testing.T, db *storage.DB, user, pushKey string, g *gateway, data map[string]any) {
	t.Helper()
	d := map[string]any{"url": g.URL + push.NotifyPath}
	for k, v := range data {
		d[k] = v
	}
	raw, _ := json.Marshal(d)
	err := db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.SetPusher(ctx, storage.Pusher{
			UserID: user, Localpart: user[1:4], DeviceID: "DEV", AppID: "org.test", PushKey: pushKey, Kind: "http",
			AppDisplayName: "Test", DeviceDisplayName: "Phone", Lang: "en", Data: raw,
		}, true)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// startDispatcher runs a dispatcher with a 10ms backoff until the returned
// stop is called or the test ends.
func (w *world) startDispatcher(t *testing.T, ev *push.Evaluator) func() {
	t.Helper()
	d, err := push.NewDispatcher(push.DispatcherDeps{DB: w.db, Rooms: w.rooms, Evaluator: ev, Log: w.log})
	if err != nil {
		t.Fatal(err)
	}
	push.SetDispatcherTiming(d, 10*time.Millisecond, 2*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("dispatcher stopped with %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestDispatcher_Deliver(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		ev, _ := w.startEvaluator(t)
		roomID := w.room(t, bob, carol)
		w.send(t, roomID, alice, "m.room.name", ptr(""), map[string]string{"name": "Workshop"})
		full := newGateway(t, nil)
		short := newGateway(t, nil)
		mustPusher(t, db, bob, "bobkey", full, map[string]any{"custom": "x"})
		mustPusher(t, db, carol, "carolkey", short, map[string]any{"format": "event_id_only"})
		w.startDispatcher(t, ev)

		sent := w.message(t, roomID, alice, map[string]any{"body": "bob?", "m.mentions": map[string]any{"user_ids": []string{bob}}})
		t.Run("OK", func(t *testing.T) {
			n := full.waitRequests(t, 1)[0]
			dev := n["devices"].([]any)[0].(map[string]any)
			got := fmt.Sprint(n["event_id"], n["room_id"], n["type"], n["sender"], n["room_name"], n["prio"],
				n["counts"], n["content"].(map[string]any)["body"], dev["app_id"], dev["pushkey"], dev["data"], dev["tweaks"])
			want := fmt.Sprint(sent.EventID, roomID, "m.room.message", alice, "Workshop", "high",
				map[string]any{"unread": 1.0}, "bob?", "org.test", "bobkey", map[string]any{"custom": "x"},
				map[string]any{"highlight": true, "sound": "default"})
			if got != want {
				t.Fatalf("notification: got %s, want %s", got, want)
			}
			if ts, _ := dev["pushkey_ts"].(float64); ts < 1e9 || ts > 1e11 {
				t.Errorf("pushkey_ts: got %v, want unix seconds", dev["pushkey_ts"])
			}
		})
		t.Run("EventIDOnly", func(t *testing.T) {
			n := short.waitRequests(t, 1)[0]
			for _, field := range []string{"type", "sender", "content", "room_name", "sender_display_name"} {
				if _, ok := n[field]; ok {
					t.Errorf("event_id_only notification has %s: %v", field, n)
				}
			}
			dev := n["devices"].([]any)[0].(map[string]any)
			if n["event_id"] != sent.EventID || n["room_id"] != roomID || dev["pushkey"] != "carolkey" ||
				fmt.Sprint(dev["data"]) != "map[format:event_id_only]" {
				t.Fatalf("event_id_only notification: got %v", n)
			}
		})
		t.Run("Once", func(t *testing.T) {
			next := w.message(t, roomID, alice, map[string]any{"body": "again"})
			got := full.waitRequests(t, 2)
			if len(got) != 2 || got[1]["event_id"] != next.EventID {
				t.Fatalf("after a second message: got %v, want the first then %s", got, next.EventID)
			}
		})
	})
}

func TestDispatcher_Failures(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		ev, _ := w.startEvaluator(t)
		roomID := w.room(t, bob, carol)
		w.startDispatcher(t, ev)

		t.Run("RetryAfter5xx", func(t *testing.T) {
			g := newGateway(t, func(n int) (int, string) {
				if n < 2 {
					return http.StatusBadGateway, ""
				}
				return http.StatusOK, "{}"
			})
			mustPusher(t, db, bob, "retry", g, nil)
			sent := w.message(t, roomID, alice, map[string]any{"body": "retry me"})
			got := g.waitRequests(t, 3)
			if got[2]["event_id"] != sent.EventID {
				t.Fatalf("third attempt: got %v, want %s", got[2], sent.EventID)
			}
			mustDeleteBobPusher(t, db, "retry")
		})
		t.Run("Rejected", func(t *testing.T) {
			g := newGateway(t, func(int) (int, string) { return http.StatusOK, `{"rejected":["gone"]}` })
			mustPusher(t, db, bob, "gone", g, nil)
			w.message(t, roomID, alice, map[string]any{"body": "to a dead phone"})
			g.waitRequests(t, 1)
			waitUntil(t, "the rejected pusher's removal", func() bool {
				_, err := db.Pusher(t.Context(), bob, "org.test", "gone")
				return errors.Is(err, storage.ErrNotFound)
			})
		})
		t.Run("RefusedIsSkipped", func(t *testing.T) {
			g := newGateway(t, func(n int) (int, string) {
				if n == 0 {
					return http.StatusBadRequest, `{"errcode":"M_BAD_JSON"}`
				}
				return http.StatusOK, "{}"
			})
			mustPusher(t, db, bob, "refused", g, nil)
			w.message(t, roomID, alice, map[string]any{"body": "refused"})
			g.waitRequests(t, 1)
			next := w.message(t, roomID, alice, map[string]any{"body": "accepted"})
			if got := g.waitRequests(t, 2); got[1]["event_id"] != next.EventID {
				t.Fatalf("after a 400: got %v, want the next notification %s", got[1], next.EventID)
			}
			mustDeleteBobPusher(t, db, "refused")
		})
		t.Run("SlowGatewayDelaysNobodyElse", func(t *testing.T) {
			release := make(chan struct{})
			slow := newGateway(t, func(int) (int, string) {
				<-release
				return http.StatusOK, "{}"
			})
			t.Cleanup(func() { close(release) }) // before the gateway's Close, which waits for it
			fast := newGateway(t, nil)
			mustPusher(t, db, bob, "slow", slow, nil)
			mustPusher(t, db, carol, "fast", fast, nil)
			sent := w.message(t, roomID, alice, map[string]any{"body": "both"})
			if got := fast.waitRequests(t, 1); got[0]["event_id"] != sent.EventID {
				t.Fatalf("fast gateway: got %v, want %s", got[0], sent.EventID)
			}
		})
	})
}

func mustDeleteBobPusher(t *testing.T, db *storage.DB, pushKey string) {
	t.Helper()
	if err := db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.DeletePusher(ctx, bob, "org.test", pushKey)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestDispatcher_Resume: what no gateway acknowledged before a stop is
// delivered by the next dispatcher (a restart), and nothing acknowledged
// is sent again.
func TestDispatcher_Resume(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		ev, _ := w.startEvaluator(t)
		roomID := w.room(t, bob)
		var down sync.Mutex
		isDown := true
		g := newGateway(t, func(int) (int, string) {
			down.Lock()
			defer down.Unlock()
			if isDown {
				return http.StatusServiceUnavailable, ""
			}
			return http.StatusOK, "{}"
		})
		mustPusher(t, db, bob, "resume", g, nil)
		stop := w.startDispatcher(t, ev)
		sent := w.message(t, roomID, alice, map[string]any{"body": "while down"})
		g.waitRequests(t, 1)
		stop()
		down.Lock()
		isDown = false
		down.Unlock()
		before := len(g.received())

		w.startDispatcher(t, ev)
		got := g.waitRequests(t, before+1)
		if got[before]["event_id"] != sent.EventID {
			t.Fatalf("after the restart: got %v, want %s", got[before], sent.EventID)
		}
		waitUntil(t, "the delivered position", func() bool {
			p, err := db.Pusher(t.Context(), bob, "org.test", "resume")
			return err == nil && p.DeliveredPos >= sent.StreamPos
		})
	})
}

// TestDispatcher_SkipsOthers: a pusher whose user was not notified by more
// events than one listing reads moves past them and still delivers what
// follows.
func TestDispatcher_SkipsOthers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		w := newWorld(t, db)
		ev, _ := w.startEvaluator(t)
		bobs, others := w.room(t, bob), w.room(t, carol)
		g := newGateway(t, nil)
		mustPusher(t, db, bob, "skip", g, nil)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for sender := range 8 { // concurrent sends to one room are committed together
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := sender; i < storage.NotificationScan+10; i += 8 {
					if _, err := w.rooms.Send(context.Background(), roomserver.Proto{RoomID: others, Sender: alice,
						Type: "m.room.message", Content: json.RawMessage(`{"msgtype":"m.text","body":"not for bob"}`)}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		sent := w.message(t, bobs, alice, map[string]any{"body": "for bob"})
		w.startDispatcher(t, ev)
		got := g.waitRequests(t, 1)
		if len(got) != 1 || got[0]["event_id"] != sent.EventID {
			t.Fatalf("got %v, want one notification of %s", got, sent.EventID)
		}
		waitUntil(t, "the delivered position", func() bool {
			p, err := db.Pusher(t.Context(), bob, "org.test", "skip")
			return err == nil && p.DeliveredPos >= sent.StreamPos
		})
	})
}
