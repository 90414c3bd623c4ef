package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/backup"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// encryptedKey encrypts a megolm session key for the backup as a client
// does.
func encryptedKey(t *testing.T, key *backup.MegolmBackupKey, sessionKey string, index int, verified bool) mautrix.ReqKeyBackupData {
	t.Helper()
	data, err := backup.EncryptSessionData(key, backup.MegolmSessionData{
		Algorithm: id.AlgorithmMegolmV1, SessionKey: sessionKey, SenderKey: "sender", ForwardingKeyChain: []string{},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return mautrix.ReqKeyBackupData{FirstMessageIndex: index, IsVerified: verified, SessionData: raw}
}

// TestKeyBackup: a client creates a backup, uploads encrypted session keys,
// another device of the user restores and decrypts them; the better key
// for a session wins; a new backup version turns the old one read-only.
func TestKeyBackup(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		alice := mustRegister(t, srv.URL, "alice", "alice password")
		laptop := mustLogin(t, srv.URL, "alice", "alice password", "laptop")
		if _, err := alice.GetKeyBackupLatestVersion(ctx); !errors.Is(err, mautrix.MNotFound) {
			t.Fatalf("no backup yet: got %v, want M_NOT_FOUND", err)
		}
		key, err := backup.NewMegolmBackupKey()
		if err != nil {
			t.Fatal(err)
		}
		created, err := alice.CreateKeyBackupVersion(ctx, &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
			Algorithm: id.KeyBackupAlgorithmMegolmBackupV1,
			AuthData:  backup.MegolmAuthData{PublicKey: id.Ed25519(base64.RawStdEncoding.EncodeToString(key.PublicKey().Bytes()))},
		})
		if err != nil {
			t.Fatalf("create backup: %v", err)
		}
		room := id.RoomID("!secret:test.local")
		put, err := alice.PutKeysInBackup(ctx, created.Version, &mautrix.ReqKeyBackup{Rooms: map[id.RoomID]mautrix.ReqRoomKeyBackup{
			room: {Sessions: map[id.SessionID]mautrix.ReqKeyBackupData{
				"session-a": encryptedKey(t, key, "key-a-from-index-3", 3, false),
				"session-b": encryptedKey(t, key, "key-b", 0, true),
			}},
		}})
		if err != nil || put.Count != 2 {
			t.Fatalf("upload: got %+v, %v; want count 2", put, err)
		}
		better, err := alice.PutKeysInBackupForRoomAndSession(ctx, created.Version, room, "session-a",
			ptr(encryptedKey(t, key, "key-a-from-index-0", 0, false)))
		if err != nil || better.Count != 2 || better.ETag == put.ETag {
			t.Fatalf("better key: got %+v, %v; want count 2 and a new etag", better, err)
		}
		worse, err := alice.PutKeysInBackupForRoomAndSession(ctx, created.Version, room, "session-a",
			ptr(encryptedKey(t, key, "key-a-from-index-9", 9, false)))
		if err != nil || worse.ETag != better.ETag {
			t.Fatalf("worse key: got %+v, %v; want the etag unchanged (%s)", worse, err, better.ETag)
		}

		// The laptop restores the backup.
		info, err := laptop.GetKeyBackupLatestVersion(ctx)
		if err != nil || info.Version != created.Version || info.Count != 2 || info.ETag != better.ETag {
			t.Fatalf("laptop: got %+v, %v; want version %s, count 2, etag %s", info, err, created.Version, better.ETag)
		}
		restored, err := laptop.GetKeyBackup(ctx, info.Version)
		if err != nil {
			t.Fatal(err)
		}
		sessions := restored.Rooms[room].Sessions
		want := map[id.SessionID]string{"session-a": "key-a-from-index-0", "session-b": "key-b"}
		for sessionID, sessionKey := range want {
			data := sessions[sessionID].SessionData
			plain, err := data.Decrypt(key)
			if err != nil || plain.SessionKey != sessionKey {
				t.Errorf("restored %s: got %v, %v; want %s", sessionID, plain, err, sessionKey)
			}
		}

		// A new version: the old one can be read but not written.
		second, err := laptop.CreateKeyBackupVersion(ctx, &mautrix.ReqRoomKeysVersionCreate[backup.MegolmAuthData]{
			Algorithm: id.KeyBackupAlgorithmMegolmBackupV1,
			AuthData:  backup.MegolmAuthData{PublicKey: id.Ed25519(base64.RawStdEncoding.EncodeToString(key.PublicKey().Bytes()))},
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = alice.PutKeysInBackupForRoomAndSession(ctx, created.Version, room, "session-c",
			ptr(encryptedKey(t, key, "key-c", 0, false)))
		var httpErr mautrix.HTTPError
		if !errors.Is(err, mautrix.MWrongRoomKeysVersion) || !errors.As(err, &httpErr) ||
			httpErr.RespError.ExtraData["current_version"] != string(second.Version) {
			t.Errorf("write to the old version: got %v, want M_WRONG_ROOM_KEYS_VERSION with current_version %s", err, second.Version)
		}
		if old, err := alice.GetKeyBackupForRoom(ctx, created.Version, room); err != nil || len(old.Sessions) != 2 {
			t.Errorf("read the old version: got %v, %v; want two sessions", old, err)
		}
		if err := alice.DeleteKeyBackupVersion(ctx, created.Version); err != nil {
			t.Fatalf("delete old version: %v", err)
		}
		if _, err := alice.GetKeyBackup(ctx, created.Version); !errors.Is(err, mautrix.MNotFound) {
			t.Errorf("keys of a deleted version: got %v, want M_NOT_FOUND", err)
		}
		deleted, err := alice.DeleteKeysFromBackupForRoom(ctx, second.Version, room)
		if err != nil || deleted.Count != 0 {
			t.Errorf("delete keys of the empty version: got %+v, %v", deleted, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
