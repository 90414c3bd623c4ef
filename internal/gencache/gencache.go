// Package gencache caches values that are current only while a generation
// counter of their key has not moved since they were read.
//
// A reader takes the key's generation first, then reads the value from
// storage, then stores it under that generation. A writer advances the
// generation after its change is committed. So an entry read before or
// during a change is stale as soon as the change is published, never
// served afterwards.
package gencache

import "sync"

// Generations counts changes per key. Counts are never dropped: a reader
// may still hold an old one, and a dropped count restarting at zero could
// match it again.
type Generations[K comparable] struct {
	mu  sync.Mutex
	gen map[K]uint64
}

// Of returns the key's current generation.
func (g *Generations[K]) Of(key K) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen[key]
}

// Advance marks a committed change of the key.
func (g *Generations[K]) Advance(key K) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gen == nil {
		g.gen = map[K]uint64{}
	}
	g.gen[key]++
}

// Cache holds at most Max values, each with the generation it was read
// at. When full it starts over empty: entries are cheap to read again.
type Cache[K comparable, V any] struct {
	Max int

	mu      sync.Mutex
	entries map[K]entry[V]
}

type entry[V any] struct {
	gen uint64
	v   V
}

// Get returns the key's value if it was read at generation gen.
func (c *Cache[K, V]) Get(key K, gen uint64) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.gen != gen {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores a value read at generation gen (taken before the read).
func (c *Cache[K, V]) Put(key K, gen uint64, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= c.Max {
		c.entries = map[K]entry[V]{}
	}
	c.entries[key] = entry[V]{gen: gen, v: v}
}
