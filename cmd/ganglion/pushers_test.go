package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// pushGateway is a local push gateway: it records the notifications it
// gets and answers with the status and body its mode says.
type pushGateway struct {
	*httptest.Server
	mu     sync.Mutex
	got    []map[string]any
	status int
	body   string
}

func newPushGateway(t *testing.T) *pushGateway {
	t.Helper()
	g := &pushGateway{status: http.StatusOK, body: "{}"}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Notification map[string]any `json:"notification"`
		}
		raw, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/_matrix/push/v1/notify" || json.Unmarshal(raw, &req) != nil {
			t.Errorf("push gateway: got %s %s, want a notify", r.URL.Path, raw)
		}
		g.mu.Lock()
		g.got = append(g.got, req.Notification)
		status, body := g.status, g.body
		g.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *pushGateway) answer(status int, body string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status, g.body = status, body
}

// waitFor waits until the gateway holds n notifications and returns them.
func (g *pushGateway) waitFor(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		g.mu.Lock()
		got := append([]map[string]any(nil), g.got...)
		g.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("push gateway: got %d notifications, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pushersOf is GET /pushers (mautrix-go v0.31.0's GetPushers sends POST).
func pushersOf(t *testing.T, cli *mautrix.Client) []mautrix.Pusher {
	t.Helper()
	var resp mautrix.RespPushers
	if _, err := cli.MakeRequest(context.Background(), "GET", cli.BuildClientURL("v3", "pushers"), nil, &resp); err != nil {
		t.Fatalf("GET /pushers: %v", err)
	}
	return resp.Pushers
}

// mustDM creates a direct chat of alice with bob, who joins.
func mustDM(t *testing.T, alice, bob *mautrix.Client) id.RoomID {
	t.Helper()
	return mustJoinedRoom(t, alice, &mautrix.ReqCreateRoom{
		Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{bob.UserID},
	}, []*mautrix.Client{bob})
}

// TestPushers drives pushers end to end: bob's pusher gets alice's DM
// message after the gateway's 500, a notification pending across a
// restart arrives after it, and a rejected pushkey removes the pusher.
func TestPushers(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, stop := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		gw := newPushGateway(t)
		http := mautrix.PusherKindHTTP
		err := bob.SetPusher(ctx, &mautrix.Pusher{
			Kind: &http, AppID: "org.example.app", PushKey: "bob-phone", AppDisplayName: "Example",
			DeviceDisplayName: "Bob's phone", Language: "en", Data: mautrix.PusherData{"url": gw.URL + "/_matrix/push/v1/notify"},
		})
		if err != nil {
			t.Fatalf("set pusher: %v", err)
		}
		if list := pushersOf(t, bob); len(list) != 1 || list[0].PushKey != "bob-phone" {
			t.Fatalf("GET /pushers: got %+v, want bob-phone", list)
		}
		room := mustDM(t, alice, bob)

		gw.answer(500, `{"errcode":"M_UNKNOWN"}`)
		sent := mustSend(t, alice, room, map[string]any{"msgtype": "m.text", "body": "hi bob"})
		gw.waitFor(t, 1)
		gw.answer(200, `{"rejected":[]}`)
		got := gw.waitFor(t, 2)[1]
		dev := got["devices"].([]any)[0].(map[string]any)
		if got["event_id"] != sent.String() || got["room_id"] != room.String() || got["type"] != event.EventMessage.Type ||
			got["sender"] != alice.UserID.String() || got["prio"] != "high" ||
			got["counts"].(map[string]any)["unread"] != 1.0 || dev["pushkey"] != "bob-phone" ||
			dev["app_id"] != "org.example.app" || dev["tweaks"].(map[string]any)["sound"] != "default" {
			t.Fatalf("notification after the retry: got %v", got)
		}
		if _, ok := dev["data"].(map[string]any)["url"]; ok {
			t.Errorf("device data: got %v, want it without url", dev["data"])
		}

		whole := t // the restarted server outlives the subtest
		t.Run("Restart", func(t *testing.T) {
			gw.answer(503, "")
			pending := mustSend(t, alice, room, map[string]any{"msgtype": "m.text", "body": "while the gateway is down"})
			before := len(gw.waitFor(t, 3))
			stop()
			gw.answer(200, "{}")
			again, _ := startServer(whole, cfg)
			alice.HomeserverURL.Host = again.URL[len("http://"):]
			bob.HomeserverURL.Host = again.URL[len("http://"):]
			if got := gw.waitFor(t, before+1)[before]; got["event_id"] != pending.String() {
				t.Fatalf("after the restart: got %v, want %s", got, pending)
			}
		})
		t.Run("Rejected", func(t *testing.T) {
			gw.answer(200, `{"rejected":["bob-phone"]}`)
			mustSend(t, alice, room, map[string]any{"msgtype": "m.text", "body": "to an expired pushkey"})
			deadline := time.Now().Add(15 * time.Second)
			for {
				list := pushersOf(t, bob)
				if len(list) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("pushers after the rejection: got %+v, want none", list)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	})
}
