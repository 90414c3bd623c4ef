package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
)

// BenchmarkSyncWoken is the server's share of the longpoll scenario: the
// client API's handler (no network) answering the /sync of each member of
// a room of 100 with the longpoll filter. Woken: the sync of one new
// message, as a long-poll woken by it computes it; Idle: a sync with
// nothing new, as every long-poll computes before it waits.
func BenchmarkSyncWoken(b *testing.B) {
	const members = 100
	srv := benchServer(b, "sqlite", false)
	ctx := context.Background()
	users := make([]*mautrix.Client, members)
	for i := range users {
		users[i] = mustRegister(b, srv.URL, fmt.Sprintf("member%d", i), "bench password")
	}
	room, err := users[0].CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "public_chat"})
	if err != nil {
		b.Fatal(err)
	}
	for _, u := range users[1:] {
		if _, err := u.JoinRoomByID(ctx, room.RoomID); err != nil {
			b.Fatal(err)
		}
	}
	filter := url.QueryEscape(benchPollFilter)
	since := make([]string, members)
	syncAll := func() { // every member, from its last token: past everyone's presence once all did
		for i, u := range users {
			resp, err := u.FullSyncRequest(ctx, mautrix.ReqSync{Timeout: 0, Since: since[i], FilterID: benchPollFilter})
			if err != nil {
				b.Fatal(err)
			}
			since[i] = resp.NextBatch
		}
	}
	syncAll()
	syncAll()
	if _, err := users[0].SendMessageEvent(ctx, room.RoomID, event.EventMessage,
		map[string]any{"msgtype": "m.text", "body": "woken"}); err != nil {
		b.Fatal(err)
	}
	requests := func(b *testing.B, since []string) []*http.Request {
		out := make([]*http.Request, members)
		for i, u := range users {
			out[i] = httptest.NewRequest(http.MethodGet, "/_matrix/client/v3/sync?timeout=0&filter="+filter+
				"&since="+url.QueryEscape(since[i]), nil)
			out[i].Header.Set("Authorization", "Bearer "+u.AccessToken)
		}
		return out
	}
	run := func(b *testing.B, reqs []*http.Request, want []byte) {
		rec := httptest.NewRecorder()
		for i := 0; b.Loop(); i++ {
			rec.Body.Reset()
			srv.srv.api.ServeHTTP(rec, reqs[i%members])
			if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), want) {
				b.Fatalf("got %d %s, want 200 with %s", rec.Code, rec.Body.Bytes(), want)
			}
		}
	}
	b.Run("Woken", func(b *testing.B) { run(b, requests(b, since), []byte(`"body":"woken"`)) })
	syncAll()
	b.Run("Idle", func(b *testing.B) { run(b, requests(b, since), []byte(`"next_batch"`)) })
}
