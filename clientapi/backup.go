package clientapi

import (
	"net/http"

	"github.com/ganglion/ganglion/clientapi/keys"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// createBackup is POST /_matrix/client/v3/room_keys/version (Server-side
// key backups).
func (a *API) createBackup(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req keys.BackupVersionRequest
	if err := a.decode(r, &req); err != nil {
		return err
	}
	version, err := a.keys.CreateBackup(r.Context(), s.UserID, req)
	if err != nil {
		return err
	}
	return ok(w, map[string]string{"version": version})
}

// getBackup is GET /_matrix/client/v3/room_keys/version (the current
// backup) and GET /_matrix/client/v3/room_keys/version/{version}.
func (a *API) getBackup(w http.ResponseWriter, r *http.Request, s *Session) error {
	info, err := a.keys.Backup(r.Context(), s.UserID, r.PathValue("version"))
	if err != nil {
		return err
	}
	return ok(w, info)
}

// updateBackup is PUT /_matrix/client/v3/room_keys/version/{version}: only
// auth_data can change.
func (a *API) updateBackup(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req keys.BackupVersionRequest
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if err := a.keys.UpdateBackup(r.Context(), s.UserID, r.PathValue("version"), req); err != nil {
		return err
	}
	return ok(w, empty)
}

// deleteBackup is DELETE /_matrix/client/v3/room_keys/version/{version}.
func (a *API) deleteBackup(w http.ResponseWriter, r *http.Request, s *Session) error {
	if err := a.keys.DeleteBackup(r.Context(), s.UserID, r.PathValue("version")); err != nil {
		return err
	}
	return ok(w, empty)
}

// backupVersionParam reads the version query parameter the key endpoints
// require.
func backupVersionParam(r *http.Request) (string, error) {
	v := r.URL.Query().Get("version")
	if v == "" {
		return "", mxerr.MissingParam("the version parameter is required")
	}
	return v, nil
}

// putBackupKeys is PUT /_matrix/client/v3/room_keys/keys,
// /room_keys/keys/{roomId} and /room_keys/keys/{roomId}/{sessionId}: the
// body is all rooms' keys, one room's, or one key.
func (a *API) putBackupKeys(w http.ResponseWriter, r *http.Request, s *Session) error {
	version, err := backupVersionParam(r)
	if err != nil {
		return err
	}
	roomID, sessionID := r.PathValue("roomId"), r.PathValue("sessionId")
	rooms := map[string]map[string]keys.BackupKeyData{}
	switch {
	case sessionID != "":
		var key keys.BackupKeyData
		if err := a.decode(r, &key); err != nil {
			return err
		}
		rooms[roomID] = map[string]keys.BackupKeyData{sessionID: key}
	case roomID != "":
		var room keys.BackupSessions
		if err := a.decode(r, &room); err != nil {
			return err
		}
		rooms[roomID] = room.Sessions
	default:
		var all struct {
			Rooms map[string]keys.BackupSessions `json:"rooms"`
		}
		if err := a.decode(r, &all); err != nil {
			return err
		}
		for id, room := range all.Rooms {
			rooms[id] = room.Sessions
		}
	}
	count, err := a.keys.PutBackupKeys(r.Context(), s.UserID, version, rooms)
	if err != nil {
		return err
	}
	return ok(w, count)
}

// getBackupKeys is GET /_matrix/client/v3/room_keys/keys,
// /room_keys/keys/{roomId} and /room_keys/keys/{roomId}/{sessionId}.
func (a *API) getBackupKeys(w http.ResponseWriter, r *http.Request, s *Session) error {
	version, err := backupVersionParam(r)
	if err != nil {
		return err
	}
	roomID, sessionID := r.PathValue("roomId"), r.PathValue("sessionId")
	stored, err := a.keys.BackupKeys(r.Context(), s.UserID, version, roomID, sessionID)
	if err != nil {
		return err
	}
	switch {
	case sessionID != "":
		if len(stored) == 0 {
			return mxerr.NotFound("no key for this session in the backup")
		}
		return ok(w, keys.KeyData(stored[0]))
	case roomID != "":
		return ok(w, sessionsOf(stored))
	}
	rooms := map[string]keys.BackupSessions{}
	for len(stored) > 0 {
		n := 1
		for n < len(stored) && stored[n].RoomID == stored[0].RoomID {
			n++
		}
		rooms[stored[0].RoomID] = sessionsOf(stored[:n])
		stored = stored[n:]
	}
	return ok(w, map[string]any{"rooms": rooms})
}

// sessionsOf groups keys of one room by session id.
func sessionsOf(stored []storage.BackupKey) keys.BackupSessions {
	out := keys.BackupSessions{Sessions: make(map[string]keys.BackupKeyData, len(stored))}
	for _, k := range stored {
		out.Sessions[k.SessionID] = keys.KeyData(k)
	}
	return out
}

// deleteBackupKeys is DELETE /_matrix/client/v3/room_keys/keys,
// /room_keys/keys/{roomId} and /room_keys/keys/{roomId}/{sessionId}.
func (a *API) deleteBackupKeys(w http.ResponseWriter, r *http.Request, s *Session) error {
	version, err := backupVersionParam(r)
	if err != nil {
		return err
	}
	count, err := a.keys.DeleteBackupKeys(r.Context(), s.UserID, version, r.PathValue("roomId"), r.PathValue("sessionId"))
	if err != nil {
		return err
	}
	return ok(w, count)
}
