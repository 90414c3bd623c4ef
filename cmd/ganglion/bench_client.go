package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// benchClient speaks the client-server API to one homeserver, as a Matrix
// client would, with net/http and encoding/json only.
type benchClient struct {
	base string // the homeserver's base URL, without a trailing slash
	http *http.Client
}

// maxBenchBody bounds a response body the bench reads (a /members answer
// for a room of 10,000 is a few MB).
const maxBenchBody = 64 << 20

func newBenchClient(base string, conns int, timeout time.Duration) *benchClient {
	transport := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
	}
	return &benchClient{
		base: strings.TrimRight(base, "/"),
		http: &http.Client{Transport: transport, Timeout: timeout},
	}
}

// benchUser is a registered account with its access token.
type benchUser struct {
	ID    string
	Token string
	txn   atomic.Int64 // last transaction id used for sends
	rooms []string     // rooms the scenario put the user in
}

// matrixError is a non-2xx answer of the homeserver.
type matrixError struct {
	Method, Path string
	Status       int
	Code         string `json:"errcode"`
	Message      string `json:"error"`
	body         []byte
}

func (e *matrixError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s %s", e.Method, e.Path, e.Status, e.Code, e.Message)
	if e.Status == http.StatusTooManyRequests {
		msg += " (start the server with rate limits off: GANGLION_RATE_LIMIT=off)"
	}
	return strings.TrimSpace(msg)
}

// do sends one request with an optional JSON body and bearer token and
// decodes a 2xx answer into out (unless nil). It returns the time of the
// exchange, from sending the request to reading the last byte of the
// answer, without encoding and decoding. Any other status is a
// *matrixError.
func (c *benchClient) do(ctx context.Context, method, path, token string, in, out any) (time.Duration, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBenchBody))
	took := time.Since(start)
	resp.Body.Close()
	if err != nil {
		return took, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return took, decodeBenchAnswer(method, path, resp.StatusCode, data, out)
}

// decodeBenchAnswer decodes the body data of a 2xx answer to method path
// into out (unless nil). Any other status is a *matrixError, which keeps a
// copy of data (the caller may reuse it).
func decodeBenchAnswer(method, path string, status int, data []byte, out any) error {
	if status < 200 || status > 299 {
		e := &matrixError{Method: method, Path: cutQuery(path), Status: status, body: bytes.Clone(data)}
		_ = json.Unmarshal(data, e) // not JSON: the status says enough
		return e
	}
	var err error
	if d, ok := out.(answerDecoder); ok {
		err = d.decodeAnswer(data)
	} else if out != nil {
		err = json.Unmarshal(data, out)
	}
	if err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// cutQuery drops the query of a path for error messages (it may carry
// pagination tokens that make every message different).
func cutQuery(path string) string {
	p, _, _ := strings.Cut(path, "?")
	return p
}

const clientV3 = "/_matrix/client/v3"

type registered struct {
	UserID      string `json:"user_id"`
	AccessToken string `json:"access_token"`
}

// registerShared creates an account with the shared-secret registration
// API (the Synapse admin API): fetch a nonce, then post the account with an
// HMAC-SHA1 over nonce, name, password and admin flag.
func (c *benchClient) registerShared(ctx context.Context, secret, localpart, password string) (*benchUser, error) {
	const path = "/_synapse/admin/v1/register"
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if _, err := c.do(ctx, http.MethodGet, path, "", nil, &nonce); err != nil {
		return nil, err
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(nonce.Nonce + "\x00" + localpart + "\x00" + password + "\x00notadmin"))
	req := map[string]any{
		"nonce": nonce.Nonce, "username": localpart, "password": password,
		"admin": false, "mac": hex.EncodeToString(mac.Sum(nil)),
	}
	var r registered
	if _, err := c.do(ctx, http.MethodPost, path, "", req, &r); err != nil {
		return nil, err
	}
	return &benchUser{ID: r.UserID, Token: r.AccessToken}, nil
}

// registerOpen creates an account through POST /register with the dummy
// stage of user-interactive auth, in the two steps clients take: the first
// request gets a session, the second completes it. The account has no
// password, so the server spends no time hashing one.
func (c *benchClient) registerOpen(ctx context.Context, localpart string) (*benchUser, error) {
	const path = clientV3 + "/register"
	req := map[string]any{"username": localpart, "initial_device_display_name": "ganglion bench"}
	_, err := c.do(ctx, http.MethodPost, path, "", req, nil)
	var mx *matrixError
	if !errors.As(err, &mx) || mx.Status != http.StatusUnauthorized {
		return nil, fmt.Errorf("register %s: want a 401 with a UIA session, got %v", localpart, err)
	}
	var challenge struct {
		Session string `json:"session"`
	}
	if err := json.Unmarshal(mx.body, &challenge); err != nil || challenge.Session == "" {
		return nil, fmt.Errorf("register %s: no UIA session in the 401 answer", localpart)
	}
	req["auth"] = map[string]string{"type": "m.login.dummy", "session": challenge.Session}
	var r registered
	if _, err := c.do(ctx, http.MethodPost, path, "", req, &r); err != nil {
		return nil, err
	}
	return &benchUser{ID: r.UserID, Token: r.AccessToken}, nil
}

// createRoom is POST /createRoom; it returns the new room's id.
func (c *benchClient) createRoom(ctx context.Context, u *benchUser, req map[string]any) (string, error) {
	var r struct {
		RoomID string `json:"room_id"`
	}
	if _, err := c.do(ctx, http.MethodPost, clientV3+"/createRoom", u.Token, req, &r); err != nil {
		return "", err
	}
	if r.RoomID == "" {
		return "", errors.New("POST /createRoom: no room_id in the answer")
	}
	return r.RoomID, nil
}

// join is POST /join/{roomIdOrAlias}.
func (c *benchClient) join(ctx context.Context, u *benchUser, roomID string) (time.Duration, error) {
	return c.do(ctx, http.MethodPost, clientV3+"/join/"+url.PathEscape(roomID), u.Token, struct{}{}, nil)
}

// send is PUT /rooms/{roomId}/send/m.room.message/{txnId} with a text
// message and the user's next transaction id.
func (c *benchClient) send(ctx context.Context, u *benchUser, roomID, text string) (time.Duration, error) {
	txn := strconv.FormatInt(u.txn.Add(1), 10)
	path := clientV3 + "/rooms/" + url.PathEscape(roomID) + "/send/m.room.message/" + txn
	var r struct {
		EventID string `json:"event_id"`
	}
	took, err := c.do(ctx, http.MethodPut, path, u.Token, map[string]string{"msgtype": "m.text", "body": text}, &r)
	if err == nil && r.EventID == "" {
		err = errors.New("PUT /send: no event_id in the answer")
	}
	return took, err
}

// messagesPage is an answer of GET /rooms/{roomId}/messages.
type messagesPage struct {
	Chunk []json.RawMessage `json:"chunk"`
	Start string            `json:"start"`
	End   string            `json:"end"` // "": no more events that way
}

// messages is GET /rooms/{roomId}/messages?dir=b&limit=N, from the token
// from (the newest events if "").
func (c *benchClient) messages(ctx context.Context, u *benchUser, roomID, from string, limit int) (messagesPage, time.Duration, error) {
	q := url.Values{"dir": {"b"}, "limit": {strconv.Itoa(limit)}}
	if from != "" {
		q.Set("from", from)
	}
	var page messagesPage
	took, err := c.do(ctx, http.MethodGet, clientV3+"/rooms/"+url.PathEscape(roomID)+"/messages?"+q.Encode(), u.Token, nil, &page)
	return page, took, err
}

// members is GET /rooms/{roomId}/members; it returns how many member events
// the answer had.
func (c *benchClient) members(ctx context.Context, u *benchUser, roomID string) (int, time.Duration, error) {
	var r struct {
		Chunk []json.RawMessage `json:"chunk"`
	}
	took, err := c.do(ctx, http.MethodGet, clientV3+"/rooms/"+url.PathEscape(roomID)+"/members", u.Token, nil, &r)
	return len(r.Chunk), took, err
}
