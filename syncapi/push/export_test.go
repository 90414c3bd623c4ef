package push

import "time"

// SetDispatcherTiming shortens a Dispatcher's backoff and request timeout
// for tests; call it before Run.
func SetDispatcherTiming(d *Dispatcher, backoff, timeout time.Duration) {
	d.minBackoff, d.maxBackoff, d.timeout = backoff, 4*backoff, timeout
}
