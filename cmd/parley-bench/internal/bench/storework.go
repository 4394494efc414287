package bench

import "expvar"

// storeWork is what every Badger store in the process wrote over a run,
// from Badger's own counters (expvar, process-wide): bytes put into its
// memtables (keys and values, which its flushes later write out), and bytes
// of the tables its compactions wrote. The nodes of one process get the same
// messages, so their flushes and the compactions after them come at about the
// same time and share the CPUs: compaction bytes in a step mark such a burst.
type storeWork struct {
	written, compacted int64
}

func readStoreWork() storeWork {
	var w storeWork
	if v, ok := expvar.Get("badger_write_bytes_l0").(*expvar.Int); ok {
		w.written = v.Value() // named for level 0, counted at each memtable put
	}
	if m, ok := expvar.Get("badger_write_bytes_compaction").(*expvar.Map); ok {
		m.Do(func(kv expvar.KeyValue) {
			if v, ok := kv.Value.(*expvar.Int); ok {
				w.compacted += v.Value()
			}
		})
	}
	return w
}

func (w storeWork) since(before storeWork) storeWork {
	return storeWork{written: w.written - before.written, compacted: w.compacted - before.compacted}
}
