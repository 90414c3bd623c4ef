package clientapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/clientapi"
	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
	"github.com/ganglion/ganglion/syncapi"
	"github.com/ganglion/ganglion/syncapi/push"
)

const (
	serverName = "test.local"
	v3         = "/_matrix/client/v3"
	v1         = "/_matrix/client/v1"
)

// testServer is a client API on a fresh database, served over HTTP on
// 127.0.0.1, with the database clock under the test's control.
type testServer struct {
	URL   string
	DB    *storage.DB
	Cfg   *config.Config
	Clock *storagetest.Clock
	// Notifier tells whether a /sync long-poll is waiting.
	Notifier *syncapi.Notifier
	// Log is the server's logger (at warning level; errors fail the test).
	Log *logrus.Logger
}

// testConfig is the default configuration made cheap and permissive for
// tests: open registration, fast password hashes, no rate limit.
func testConfig() *config.Config {
	cfg := config.Default()
	cfg.ServerName = serverName
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.Passwords.MemoryKiB = 64
	cfg.Passwords.Iterations = 1
	cfg.RateLimit.Enabled = false
	return cfg
}

// eachServer runs fn once per database dialect with a fresh server whose
// configuration configure (may be nil) adjusted.
func eachServer(t *testing.T, configure func(cfg *config.Config), fn func(t *testing.T, s *testServer)) {
	t.Helper()
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		cfg := testConfig()
		if configure != nil {
			configure(cfg)
		}
		fn(t, mustServer(t, db, clock, cfg))
	})
}

// mustServer starts the client API on db until the test ends. Any error the
// server logs (a 500, a panic) fails the test.
func mustServer(t *testing.T, db *storage.DB, clock *storagetest.Clock, cfg *config.Config) *testServer {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetLevel(logrus.WarnLevel)
	log.AddHook(testLogHook{t})
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := roomserver.New(roomserver.Config{DefaultRoomVersion: "10"}, roomserver.Deps{
		DB: db, Log: log, ServerName: cfg.ServerName, KeyID: "ed25519:test", Key: key,
	})
	if err != nil {
		t.Fatalf("roomserver.New: %v", err)
	}
	notifier, err := syncapi.NewNotifier(context.Background(), db, cfg.ServerName)
	if err != nil {
		t.Fatal(err)
	}
	rooms.Subscribe(notifier)
	evaluator, err := push.New(context.Background(), cfg.ServerName, push.Deps{DB: db, Rooms: rooms, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	rooms.Subscribe(evaluator)
	typing := syncapi.NewTyping(notifier, db.Now)
	syncer, err := syncapi.NewSyncer(syncapi.Deps{
		DB: db, Rooms: rooms, Notifier: notifier, Typing: typing, Push: evaluator, Log: log, Presence: cfg.Presence.Enabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Media.Directory == "" {
		cfg.Media.Directory = t.TempDir()
	}
	api, err := clientapi.New(cfg, clientapi.Deps{
		DB: db, Rooms: rooms, Syncer: syncer, Notifier: notifier, Typing: typing, Push: evaluator, Log: log,
	})
	if err != nil {
		t.Fatalf("clientapi.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = api.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		_ = evaluator.Run(ctx)
	}()
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
	})
	return &testServer{URL: srv.URL, DB: db, Cfg: cfg, Clock: clock, Notifier: notifier, Log: log}
}

// testLogHook routes the server's log to the test: warnings are logged,
// errors fail the test (the client got a 500 or the server hit a bug).
type testLogHook struct{ t *testing.T }

func (h testLogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h testLogHook) Fire(e *logrus.Entry) error {
	line := fmt.Sprintf("server log: %s: %s %v", e.Level, e.Message, e.Data)
	if e.Level <= logrus.ErrorLevel {
		h.t.Error(line)
	} else {
		h.t.Log(line)
	}
	return nil
}

// response is a decoded answer of the server.
type response struct {
	Req    string // "METHOD path", for messages
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any // nil unless the body is a JSON object
}

// rawBody is a request body sent as it is.
type rawBody string

// streamBody is a request body sent without Content-Length (chunked).
type streamBody struct{ io.Reader }

// do sends a request with an optional access token and body (rawBody,
// streamBody, or anything else marshalled as JSON; nil for none) and reads
// the answer.
func (s *testServer) do(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	return s.doHeaders(t, method, path, token, body, nil)
}

// doHeaders is do with extra request headers.
func (s *testServer) doHeaders(t *testing.T, method, path, token string, body any, headers map[string]string) response {
	t.Helper()
	r, err := s.send(t.Context(), method, path, token, body, headers)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is doHeaders for goroutines other than the test's: it returns its
// errors.
func (s *testServer) send(ctx context.Context, method, path, token string, body any, headers map[string]string) (response, error) {
	var (
		reader io.Reader
		length int64 = -1
	)
	switch b := body.(type) {
	case nil:
		length = 0
	case rawBody:
		reader, length = strings.NewReader(string(b)), int64(len(b))
	case streamBody:
		reader = b.Reader
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return response{}, fmt.Errorf("marshal request body: %w", err)
		}
		reader, length = bytes.NewReader(data), int64(len(data))
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, reader)
	if err != nil {
		return response{}, fmt.Errorf("new request: %w", err)
	}
	req.ContentLength = length
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	r := response{Req: method + " " + path, Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			return response{}, fmt.Errorf("%s: body is not JSON: %w: %s", r.Req, err, raw)
		}
	}
	return r, nil
}

// str returns a string field of the body, or "".
func (r response) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

// wantOK fails the test unless the request succeeded.
func wantOK(t *testing.T, r response) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: got %d %s, want 200", r.Req, r.Status, r.Raw)
	}
}

// wantErr fails the test unless the answer is a Matrix error with the
// status and errcode.
func wantErr(t *testing.T, r response, status int, errcode string) {
	t.Helper()
	if r.Status != status || r.str("errcode") != errcode {
		t.Fatalf("%s: got %d %s, want %d %s", r.Req, r.Status, r.Raw, status, errcode)
	}
	if _, ok := r.Body["error"].(string); !ok {
		t.Errorf("%s: error body has no error message: %s", r.Req, r.Raw)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: got Content-Type %q, want application/json", r.Req, ct)
	}
}

// wantSoftLogout fails the test unless the answer is 401 M_UNKNOWN_TOKEN
// with the soft_logout flag.
func wantSoftLogout(t *testing.T, r response, soft bool) {
	t.Helper()
	wantErr(t, r, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	if got, ok := r.Body["soft_logout"].(bool); !ok || got != soft {
		t.Errorf("%s: got soft_logout %v, want %v", r.Req, r.Body["soft_logout"], soft)
	}
}

// user is a logged-in account.
type user struct {
	ID, Localpart, Password  string
	Token, DeviceID, Refresh string
}

func userID(localpart string) string { return "@" + localpart + ":" + serverName }

// register posts a registration for localpart, completing the dummy stage
// in the same request.
func (s *testServer) register(t *testing.T, localpart, password string) response {
	t.Helper()
	return s.do(t, "POST", v3+"/register", "", map[string]any{
		"username": localpart, "password": password,
		"auth": map[string]any{"type": "m.login.dummy"},
	})
}

// mustRegister creates an account and returns its first session.
func (s *testServer) mustRegister(t *testing.T, localpart, password string) user {
	t.Helper()
	r := s.register(t, localpart, password)
	wantOK(t, r)
	return s.userFrom(t, r, localpart, password)
}

// login posts a password login.
func (s *testServer) login(t *testing.T, user, password string) response {
	t.Helper()
	return s.do(t, "POST", v3+"/login", "", map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   password,
	})
}

// mustLogin logs in on a new device.
func (s *testServer) mustLogin(t *testing.T, localpart, password string) user {
	t.Helper()
	r := s.login(t, localpart, password)
	wantOK(t, r)
	return s.userFrom(t, r, localpart, password)
}

func (s *testServer) userFrom(t *testing.T, r response, localpart, password string) user {
	t.Helper()
	u := user{
		ID: r.str("user_id"), Localpart: localpart, Password: password,
		Token: r.str("access_token"), DeviceID: r.str("device_id"), Refresh: r.str("refresh_token"),
	}
	if u.ID != userID(localpart) || u.Token == "" || u.DeviceID == "" {
		t.Fatalf("%s: incomplete login response %s", r.Req, r.Raw)
	}
	return u
}

// wantLogin checks whether password logs localpart in, without leaving a
// new device behind.
func (s *testServer) wantLogin(t *testing.T, localpart, password string, want bool) {
	t.Helper()
	r := s.login(t, localpart, password)
	if got := r.Status == http.StatusOK; got != want {
		t.Fatalf("login %s: got %d %s, want success %v", localpart, r.Status, r.Raw, want)
	}
	if want {
		wantOK(t, s.do(t, "POST", v3+"/logout", r.str("access_token"), map[string]any{}))
	}
}

// wantToken checks whether an access token is accepted.
func (s *testServer) wantToken(t *testing.T, token string, valid bool) {
	t.Helper()
	r := s.do(t, "GET", v3+"/account/whoami", token, nil)
	if valid {
		wantOK(t, r)
		return
	}
	wantSoftLogout(t, r, false)
}

// passwordAuth is the m.login.password stage of user-interactive auth.
func passwordAuth(u user, password, session string) map[string]any {
	auth := map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": u.ID},
		"password":   password,
	}
	if session != "" {
		auth["session"] = session
	}
	return auth
}

// wantChallenge checks a 401 of user-interactive auth: flows, a session,
// and the errcode of a failed attempt ("" for none). It returns the session.
func wantChallenge(t *testing.T, r response, errcode string, stage string) string {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("%s: got %d %s, want 401 challenge", r.Req, r.Status, r.Raw)
	}
	if got := r.str("errcode"); got != errcode {
		t.Fatalf("%s: got errcode %q, want %q: %s", r.Req, got, errcode, r.Raw)
	}
	var body struct {
		Flows []struct {
			Stages []string `json:"stages"`
		} `json:"flows"`
		Session string         `json:"session"`
		Params  map[string]any `json:"params"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatalf("%s: %v", r.Req, err)
	}
	if body.Session == "" || body.Params == nil {
		t.Fatalf("%s: challenge lacks session or params: %s", r.Req, r.Raw)
	}
	found := false
	for _, f := range body.Flows {
		found = found || slices.Contains(f.Stages, stage)
	}
	if !found {
		t.Fatalf("%s: no flow has stage %s: %s", r.Req, stage, r.Raw)
	}
	return body.Session
}

// mustTx runs fn in one write transaction.
func mustTx(t *testing.T, db *storage.DB, fn func(ctx context.Context, tx *storage.Tx) error) {
	t.Helper()
	if err := db.WithTx(t.Context(), fn); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}

// wantAccount checks whether an account with the localpart exists.
func wantAccount(t *testing.T, db *storage.DB, localpart string, want bool) {
	t.Helper()
	got, err := db.AccountExists(t.Context(), localpart)
	if err != nil {
		t.Fatalf("account exists: %v", err)
	}
	if got != want {
		t.Fatalf("account %s exists: got %v, want %v", localpart, got, want)
	}
}

// deviceIDs lists the ids of an account's devices in the database.
func deviceIDs(t *testing.T, db *storage.DB, localpart string) []string {
	t.Helper()
	devices, err := db.Devices(t.Context(), localpart)
	if err != nil {
		t.Fatalf("devices: %v", err)
	}
	ids := make([]string, len(devices))
	for i, d := range devices {
		ids[i] = d.ID
	}
	slices.Sort(ids)
	return ids
}

// wantDevices checks an account's devices in the database.
func wantDevices(t *testing.T, db *storage.DB, localpart string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := deviceIDs(t, db, localpart); !slices.Equal(got, want) {
		t.Fatalf("devices of %s: got %v, want %v", localpart, got, want)
	}
}

// jsonString marshals v for splicing into a raw request body.
func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}
