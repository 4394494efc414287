package syncproto

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// A pull cut by PullTimeout while storing full pages runs again at once; a
// stall, a refusal or a dribbling peer waits for the periodic sync.
func TestContinuesAfterPullTimeout(t *testing.T) {
	cut := fmt.Errorf("%w: %v", errPullTimeout, context.DeadlineExceeded)
	for _, c := range []struct {
		err      error
		received uint64
		want     bool
	}{
		{cut, MaxBatchMessages, true},
		{cut, 10 * MaxBatchMessages, true},
		{cut, MaxBatchMessages - 1, false},
		{context.DeadlineExceeded, 10 * MaxBatchMessages, false},
		{ErrDenied, 10 * MaxBatchMessages, false},
		{nil, 10 * MaxBatchMessages, false},
		{errors.New("peer closed the stream before the end"), MaxBatchMessages, false},
	} {
		if got := continues(c.err, c.received); got != c.want {
			t.Errorf("continues(%v, %d) = %v, want %v", c.err, c.received, got, c.want)
		}
	}
}
