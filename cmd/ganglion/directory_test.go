package main

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// TestDirectory walks a room's life in the directory through mautrix-go: a
// public room with an alias, found in the published room directory, joined
// by its alias, tagged (and the tag arrives by /sync), given a second
// alias, left and forgotten.
func TestDirectory(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]

		created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Visibility: "public", RoomAliasName: "site-7", Name: "Site 7", Topic: "Roofing",
		})
		if err != nil {
			t.Fatalf("create room: %v", err)
		}
		roomID := created.RoomID
		if _, err := bob.CreateRoom(ctx, &mautrix.ReqCreateRoom{RoomAliasName: "site-7"}); !errors.Is(err, mautrix.MRoomInUse) {
			t.Errorf("second room with the alias: got %v, want M_ROOM_IN_USE", err)
		}

		listed, err := bob.PublicRooms(ctx, &mautrix.ReqPublicRooms{Limit: 10})
		if err != nil {
			t.Fatalf("public rooms: %v", err)
		}
		if len(listed.Chunk) != 1 || listed.Chunk[0].RoomID != roomID || listed.Chunk[0].CanonicalAlias != "#site-7:test.local" ||
			listed.Chunk[0].Name != "Site 7" || listed.Chunk[0].NumJoinedMembers != 1 || listed.TotalRoomCountEstimate != 1 {
			t.Errorf("public rooms: got %+v, want the room with its alias, name and 1 member", listed.Chunk)
		}

		resolved, err := bob.ResolveAlias(ctx, "#site-7:test.local")
		if err != nil || resolved.RoomID != roomID {
			t.Fatalf("resolve alias: got %+v, %v, want %s", resolved, err, roomID)
		}
		joined, err := bob.JoinRoom(ctx, "#site-7:test.local", nil)
		if err != nil || joined.RoomID != roomID {
			t.Fatalf("join by alias: got %+v, %v, want %s", joined, err, roomID)
		}

		if err := bob.AddTag(ctx, roomID, event.RoomTagFavourite, 0.5); err != nil {
			t.Fatalf("add tag: %v", err)
		}
		tags, err := bob.GetTags(ctx, roomID)
		if order, _ := tags.Tags[event.RoomTagFavourite].Order.Float64(); err != nil || len(tags.Tags) != 1 || order != 0.5 {
			t.Errorf("tags: got %+v, %v, want m.favourite at 0.5", tags, err)
		}
		wantSyncedTag(t, bob, roomID, event.RoomTagFavourite)

		if _, err := bob.CreateAlias(ctx, "#roofing:test.local", roomID); err != nil {
			t.Fatalf("bob adds an alias: %v", err)
		}
		aliases, err := alice.GetAliases(ctx, roomID)
		if err != nil || len(aliases.Aliases) != 2 {
			t.Errorf("aliases: got %+v, %v, want two", aliases, err)
		}
		if _, err := bob.DeleteAlias(ctx, "#site-7:test.local"); !errors.Is(err, mautrix.MForbidden) {
			t.Errorf("bob deleting alice's alias: got %v, want M_FORBIDDEN", err)
		}
		if _, err := alice.DeleteAlias(ctx, "#roofing:test.local"); err != nil {
			t.Errorf("alice deleting bob's alias: %v", err)
		}

		// mautrix's M_UNKNOWN matches only with the same message: compare codes.
		var httpErr mautrix.HTTPError
		if _, err := bob.ForgetRoom(ctx, roomID); !errors.As(err, &httpErr) || httpErr.RespError == nil ||
			httpErr.RespError.ErrCode != "M_UNKNOWN" || !httpErr.IsStatus(http.StatusBadRequest) {
			t.Errorf("forget while joined: got %v, want 400 M_UNKNOWN", err)
		}
		if _, err := bob.LeaveRoom(ctx, roomID); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.ForgetRoom(ctx, roomID); err != nil {
			t.Fatalf("forget: %v", err)
		}
		if _, err := bob.Messages(ctx, roomID, "", "", mautrix.DirectionBackward, nil, 10); !errors.Is(err, mautrix.MForbidden) {
			t.Errorf("messages after forgetting: got %v, want M_FORBIDDEN", err)
		}
		if _, err := bob.JoinRoom(ctx, "#site-7:test.local", nil); err != nil {
			t.Fatalf("join again: %v", err)
		}
		if _, err := bob.Messages(ctx, roomID, "", "", mautrix.DirectionBackward, nil, 10); err != nil {
			t.Errorf("messages after joining again: %v", err)
		}

		var unlisted struct{}
		if _, err := alice.MakeRequest(ctx, http.MethodPut, alice.BuildClientURL("v3", "directory", "list", "room", roomID),
			map[string]string{"visibility": "private"}, &unlisted); err != nil {
			t.Fatalf("unpublish: %v", err)
		}
		if listed, err := bob.PublicRooms(ctx, nil); err != nil || len(listed.Chunk) != 0 {
			t.Errorf("public rooms after unpublishing: got %+v, %v, want none", listed, err)
		}
	})
}

// wantSyncedTag checks that an initial /sync carries the room's m.tag
// account data with the tag.
func wantSyncedTag(t *testing.T, cli *mautrix.Client, roomID id.RoomID, tag event.RoomTag) {
	t.Helper()
	resp, err := cli.SyncRequest(context.Background(), 0, "", "", false, "")
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	room, ok := resp.Rooms.Join[roomID]
	if !ok {
		t.Fatalf("sync: room %s not in the join section", roomID)
	}
	for _, ev := range room.AccountData.Events {
		if ev.Type.Type != event.AccountDataRoomTags.Type {
			continue
		}
		if err := ev.Content.ParseRaw(ev.Type); err != nil {
			t.Fatalf("sync: parse m.tag: %v", err)
		}
		if _, found := ev.Content.AsTag().Tags[tag]; found {
			return
		}
	}
	t.Errorf("sync: room account data %+v has no m.tag with %s", room.AccountData.Events, tag)
}
