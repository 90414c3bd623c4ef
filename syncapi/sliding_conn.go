package syncapi

import (
	"errors"
	"strconv"
	"strings"
	"sync"
)

// ErrUnknownPos is returned for a sliding sync pos the server does not
// know (not issued to this user and device, or forgotten, e.g. after a
// restart): the client starts a new connection.
var ErrUnknownPos = errors.New("unknown sliding sync position")

// slidingConns keeps sliding sync connection state in memory: what each
// connection has been sent. It is lost on restart, which clients handle by
// starting over after M_UNKNOWN_POS.
type slidingConns struct {
	mu    sync.Mutex
	conns map[connKey]*slidingConn
}

type connKey struct{ user, device, conn string }

type slidingConn struct {
	seq    int64
	states map[int64]*connState
}

// connState is what a connection had been sent at one pos.
type connState struct {
	token     StreamToken
	rooms     map[string]sentRoom
	otkCounts map[string]int // one-time key counts last sent by the e2ee extension
	fallbacks []string       // unused fallback key types last sent by it
	// The rooms the receipts and typing extensions covered: a room they
	// start to cover is sent as on a new connection.
	receiptRooms, typingRooms map[string]bool
}

// sentRoom is what was last sent of a room on a connection.
type sentRoom struct {
	timelineLimit int
	membership    string
	requiredState []string // RequiredState.includes of the config it was sent with
}

// keptStates is how many past positions of a connection stay usable: the
// newest, and the one before it for a retried request.
const keptStates = 2

// maxConnsPerDevice bounds the connections a device may hold.
const maxConnsPerDevice = 10

// state returns the state of a connection at pos ("" for a new
// connection).
func (c *slidingConns) state(key connKey, pos string) (*connState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pos == "" {
		return nil, nil
	}
	seqText, _, ok := strings.Cut(pos, "_")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil {
		return nil, ErrUnknownPos
	}
	conn := c.conns[key]
	if conn == nil || conn.states[seq] == nil || pos != posOf(seq, conn.states[seq]) {
		return nil, ErrUnknownPos
	}
	return conn.states[seq], nil
}

// save records the connection's new state and returns its pos.
func (c *slidingConns) save(key connKey, st *connState) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns == nil {
		c.conns = map[connKey]*slidingConn{}
	}
	conn := c.conns[key]
	if conn == nil {
		c.evictDevice(key)
		conn = &slidingConn{states: map[int64]*connState{}}
		c.conns[key] = conn
	}
	conn.seq++
	conn.states[conn.seq] = st
	delete(conn.states, conn.seq-keptStates)
	return posOf(conn.seq, st)
}

// posOf is the pos of a connection's state: its sequence number and its
// stream positions.
func posOf(seq int64, st *connState) string {
	return strconv.FormatInt(seq, 10) + "_" + st.token.String()
}

// evictDevice drops a device's oldest connections beyond the limit.
func (c *slidingConns) evictDevice(key connKey) {
	n := 0
	for k := range c.conns {
		if k.user == key.user && k.device == key.device {
			n++
			if n >= maxConnsPerDevice {
				delete(c.conns, k)
			}
		}
	}
}
