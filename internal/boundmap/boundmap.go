// Package boundmap is a map safe for concurrent use that holds at most a
// given number of entries: when full, it starts over empty. It suits
// caches of values that never change once known (parsed filters, the
// history visibility of a state snapshot), which are cheap to compute
// again after the reset.
package boundmap

import "sync"

// Map holds at most Max entries. The zero value with Max set is ready.
type Map[K comparable, V any] struct {
	Max int

	mu sync.Mutex
	m  map[K]V
}

// Get returns the key's value, if held.
func (b *Map[K, V]) Get(key K) (V, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[key]
	return v, ok
}

// Put holds the key's value, starting over empty if the map is full.
func (b *Map[K, V]) Put(key K, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil || len(b.m) >= b.Max {
		b.m = make(map[K]V)
	}
	b.m[key] = v
}
