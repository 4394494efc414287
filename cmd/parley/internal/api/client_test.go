package api

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// A node that closes the connection before answering (it is stopping) is
// "not running" for a read, which the CLI then retries elsewhere, but not
// for a send, which may have gone through.
func TestClosedBeforeAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1024)
			_, _ = c.Read(buf) // the request, then hang up
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := NewClient(ln.Addr().String(), "t")
	if _, err := c.History(ctx, "g", "", 5); !errors.Is(err, ErrNotRunning) {
		t.Errorf("read on a closed connection: %v, want ErrNotRunning", err)
	}
	if _, err := c.Send(ctx, "g", "hi"); err == nil || errors.Is(err, ErrNotRunning) {
		t.Errorf("send on a closed connection: %v, want another error", err)
	}
}
