package store

import (
	"errors"
	"testing"
	"time"
)

// A second open of a held store fails with ErrLocked after waiting, and
// succeeds once the holder closes within the wait.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	first, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, WithLockWait(50*time.Millisecond)); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: got %v, want ErrLocked", err)
	}
	released := make(chan error, 1)
	go func() {
		st, err := Open(dir, WithLockWait(time.Minute))
		if err == nil {
			err = st.Close()
		}
		released <- err
	}()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-released; err != nil {
		t.Fatalf("open after release: %v", err)
	}
}
