package search

// SetBatchSize changes the events indexed per transaction, so that tests
// cross batch boundaries with few events.
func (ix *Indexer) SetBatchSize(n int) { ix.batch = n }
