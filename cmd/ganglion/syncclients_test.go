package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// TestSync_SeveralClients: several mautrix-go clients long-poll at once
// (three members, one of them on two devices, and an outsider); one
// member sends, and every member's long-poll wakes with the message while
// the outsider never sees it. A long-poll that returns with something else
// (presence) is renewed from its next_batch, as clients do.
func TestSync_SeveralClients(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		bobPhone := mustLogin(t, srv.URL, "bob", "bob password", "phone")
		carol := mustRegister(t, srv.URL, "carol", "carol password")
		outsider := mustRegister(t, srv.URL, "mallory", "mallory password")
		room := mustPublicRoom(t, alice, bob, carol)
		clients := map[string]*mautrix.Client{"alice": alice, "bob": bob, "bob's phone": bobPhone, "carol": carol,
			"outsider": outsider}
		since := map[string]string{}
		for who, cli := range clients {
			since[who] = mustSync(t, cli, "", 0, "").NextBatch
		}

		type result struct {
			who string
			at  time.Time // when the message arrived; zero if never
			err error
		}
		const text = "meeting moved to 3pm"
		results := make(chan result, len(clients))
		const window = 3 * time.Second // how long the outsider keeps polling
		for who, cli := range clients {
			go func() {
				next := since[who]
				// Members wait longer than the test allows for delivery, so
				// only a wake-up delivers in time.
				deadline, timeout := time.Now().Add(15*time.Second), 20000
				if who == "outsider" {
					deadline, timeout = time.Now().Add(window), 1000
				}
				for time.Now().Before(deadline) {
					resp, err := cli.FullSyncRequest(context.Background(), mautrix.ReqSync{Since: next, Timeout: timeout})
					if err != nil {
						results <- result{who: who, err: err}
						return
					}
					if jr := resp.Rooms.Join[room]; jr != nil && slices.ContainsFunc(jr.Timeline.Events, func(ev *event.Event) bool {
						return ev.Content.Raw["body"] == text
					}) {
						results <- result{who: who, at: time.Now()}
						return
					}
					next = resp.NextBatch
				}
				results <- result{who: who}
			}()
		}
		for _, cli := range clients {
			waitForWaiter(t, srv, cli.UserID)
		}
		start := time.Now()
		if _, err := bob.SendText(context.Background(), room, text); err != nil {
			t.Fatal(err)
		}
		for range clients {
			r := <-results
			switch {
			case r.err != nil:
				t.Errorf("%s's long-poll: %v", r.who, r.err)
			case r.who == "outsider" && !r.at.IsZero():
				t.Error("the outsider's long-poll got the message")
			case r.who != "outsider" && (r.at.IsZero() || r.at.Sub(start) > 10*time.Second):
				t.Errorf("%s's long-polls: not woken with the message (arrived: %v, after %v)", r.who, !r.at.IsZero(), r.at.Sub(start))
			}
		}
	})
}

// TestSync_ToDeviceExactlyOnce: to-device messages reach the device they
// are sent to once each, in order: a long-poll wakes for one, a retried
// send (same transaction id) is not delivered twice, a sync retried from
// the same since (a lost response) gets them again, once acknowledged by
// the next since (a long-poll's too) they are gone, another device of the user sees only its
// own, and unacknowledged messages survive a restart.
func TestSync_ToDeviceExactlyOnce(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, stop := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		bobPhone := mustLogin(t, srv.URL, "bob", "bob password", "phone")
		send := func(device id.DeviceID, txn, text string) {
			t.Helper()
			body := map[string]any{"messages": map[id.UserID]map[id.DeviceID]any{bob.UserID: {device: map[string]string{"n": text}}}}
			url := alice.BuildClientURL("v3", "sendToDevice", "org.example.count", txn)
			if _, err := alice.MakeRequest(ctx, "PUT", url, body, nil); err != nil {
				t.Fatalf("send to-device %s: %v", text, err)
			}
		}
		received := func(resp *mautrix.RespSync) []string {
			var out []string
			for _, ev := range resp.ToDevice.Events {
				if ev.Sender != alice.UserID {
					t.Errorf("to-device sender: got %s, want %s", ev.Sender, alice.UserID)
				}
				out = append(out, fmt.Sprint(ev.Content.Raw["n"]))
			}
			return out
		}
		want := func(step string, resp *mautrix.RespSync, texts ...string) {
			t.Helper()
			if got := received(resp); !slices.Equal(got, texts) {
				t.Errorf("%s: got to-device %v, want %v", step, got, texts)
			}
		}

		base := mustSync(t, bob, "", 0, "")
		phoneBase := mustSync(t, bobPhone, "", 0, "")
		poll := longPoll(t, srv, bob, base.NextBatch)
		send(bob.DeviceID, "t0", "0")
		woken := <-poll
		want("woken long-poll", woken, "0")

		send(bob.DeviceID, "t1", "1")
		send(bob.DeviceID, "t2", "2")
		send(bob.DeviceID, "t2", "2") // a client retrying the same request
		send(bobPhone.DeviceID, "t3", "phone")
		next := mustSync(t, bob, woken.NextBatch, 0, "")
		want("after acknowledging 0", next, "1", "2")
		retry := mustSync(t, bob, woken.NextBatch, 0, "")
		want("retry from the same since", retry, "1", "2")
		want("after acknowledging 1 and 2", mustSync(t, bob, retry.NextBatch, 0, ""))
		want("an acknowledged since again", mustSync(t, bob, woken.NextBatch, 0, ""))
		want("the other device", mustSync(t, bobPhone, phoneBase.NextBatch, 0, ""), "phone")

		send(bob.DeviceID, "t4", "3")
		stop()
		again, _ := startServer(t, cfg)
		bob.HomeserverURL.Host = again.URL[len("http://"):]
		after := mustSync(t, bob, retry.NextBatch, 0, "")
		want("after a restart", after, "3")
		// A long-poll that waits for nothing new and times out
		// acknowledges too.
		want("long-poll after a restart", mustSync(t, bob, after.NextBatch, 50, ""))
		want("acknowledged by the long-poll", mustSync(t, bob, retry.NextBatch, 0, ""))
	})
}
