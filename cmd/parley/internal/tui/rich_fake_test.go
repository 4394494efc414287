package tui

import (
	"context"
	"fmt"

	"github.com/parley-chat/parley/node"
)

// The rich-message part of the in-memory Backend: calls are recorded as
// "verb args" like the membership ones.

func (f *fake) SendWith(ctx context.Context, ref, text string, o node.SendOptions) (node.Message, error) {
	m, err := f.Send(ctx, ref, text)
	if err == nil && o.ReplyTo != "" {
		f.mu.Lock()
		f.calls = append(f.calls, "reply "+o.ReplyTo+" "+text)
		f.mu.Unlock()
	}
	return m, err
}

func (f *fake) richCall(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.callErr
}

func (f *fake) React(_ context.Context, ref, id, emoji string, remove bool) error {
	return f.richCall("react %s %s %s %v", ref, id, emoji, remove)
}

func (f *fake) Edit(_ context.Context, ref, id, text string) error {
	return f.richCall("edit %s %s %s", ref, id, text)
}

func (f *fake) Delete(_ context.Context, ref, id string) error {
	return f.richCall("delete %s %s", ref, id)
}

func (f *fake) Message(ref, id string) (node.Message, error) {
	return node.Message{}, fmt.Errorf("%w: %s", node.ErrMessageNotFound, id)
}
