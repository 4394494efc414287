package backendtest

import (
	"context"

	"github.com/parley-chat/parley/node"
)

// The rich-message calls, recorded like the membership ones.

func (f *Fake) SendWith(_ context.Context, ref, text string, o node.SendOptions) (node.Message, error) {
	return node.Message{ID: "0123456789abcdef", Text: text, ReplyTo: o.ReplyTo}, f.call("send %s %s reply=%s", ref, text, o.ReplyTo)
}

func (f *Fake) React(_ context.Context, ref, id, emoji string, remove bool) error {
	return f.call("react %s %s %s %v", ref, id, emoji, remove)
}

func (f *Fake) Edit(_ context.Context, ref, id, text string) error {
	return f.call("edit %s %s %s", ref, id, text)
}

func (f *Fake) Delete(_ context.Context, ref, id string) error {
	return f.call("delete %s %s", ref, id)
}

func (f *Fake) Message(ref, id string) (node.Message, error) {
	return node.Message{ID: id}, f.call("message %s %s", ref, id)
}
