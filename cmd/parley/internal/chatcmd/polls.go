package chatcmd

// Poll commands of both chats and the poll rendering they share.

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

// PollFront is a front end that runs polls in the current group. poll is
// a number the chat showed ("poll #2") or a poll id prefix; choices are
// 0-based (none withdraws).
type PollFront interface {
	CreatePoll(question string, options []string, multi, anonymous bool) error
	Vote(poll string, choices []int) error
	ClosePoll(poll string) error
}

func isPollFront(f Front) bool { _, ok := f.(PollFront); return ok }

// withPolls inserts the poll commands before /help.
func withPolls(t []*Command) []*Command {
	cmds := []*Command{
		{Name: "poll", Args: "QUESTION | OPTION | OPTION... [--multi] [--anonymous]", NeedArg: true, offered: isPollFront,
			Help: "open a poll in the current group: question and 2-10 options separated by |",
			Run: func(f Front, arg string) error {
				q, opts, multi, anon, err := ParsePoll(arg)
				if err != nil {
					return err
				}
				return f.(PollFront).CreatePoll(q, opts, multi, anon)
			}},
		{Name: "vote", Args: "N CHOICE... (or N none)", NeedArg: true, offered: isPollFront,
			Help: "vote in poll #N for options CHOICE (numbered from 1); again to change, \"none\" to withdraw",
			Run: func(f Front, arg string) error {
				fs := strings.Fields(arg)
				if len(fs) < 2 {
					return Lookup("vote").UsageError()
				}
				var cs []int
				if !(len(fs) == 2 && strings.EqualFold(fs[1], "none")) {
					for _, s := range fs[1:] {
						v, err := strconv.Atoi(strings.TrimSuffix(s, ","))
						if err != nil || v < 1 || v > node.MaxPollOptions {
							return fmt.Errorf("%w: %q is not an option number (1 to %d)", ErrUsage, s, node.MaxPollOptions)
						}
						cs = append(cs, v-1)
					}
				}
				return f.(PollFront).Vote(fs[0], cs)
			}},
		{Name: "close", Args: "N", NeedArg: true, offered: isPollFront,
			Help: "close poll #N (its creator or an admin): later votes do not count",
			Run:  func(f Front, arg string) error { return f.(PollFront).ClosePoll(strings.TrimSpace(arg)) }},
	}
	for i, c := range t {
		if c.Name == "help" {
			return append(append(t[:i:i], cmds...), t[i:]...)
		}
	}
	return append(t, cmds...)
}

// ParsePoll reads "QUESTION | OPTION | OPTION... [--multi] [--anonymous]".
func ParsePoll(arg string) (question string, options []string, multi, anonymous bool, err error) {
	var kept []string
	for _, w := range strings.Fields(arg) {
		switch w {
		case "--multi", "-m":
			multi = true
		case "--anonymous", "--anon", "-a":
			anonymous = true
		default:
			kept = append(kept, w)
		}
	}
	parts := strings.Split(strings.Join(kept, " "), "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	if len(parts) < 1+node.MinPollOptions || len(parts) > 1+node.MaxPollOptions || parts[0] == "" {
		return "", nil, false, false, fmt.Errorf("%w: /poll QUESTION | OPTION | OPTION... (2 to %d options, separated by |)", ErrUsage, node.MaxPollOptions)
	}
	return parts[0], parts[1:], multi, anonymous, nil
}

// PollNumbers gives the polls a chat shows short numbers (#1, #2, ... in
// the order first seen in this session), so /vote 2 1 names one.
type PollNumbers struct {
	mu   sync.Mutex
	ids  []string
	byID map[string]int
}

// Number is poll id's number, assigned on first sight.
func (p *PollNumbers) Number(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.byID[id]; ok {
		return n
	}
	if p.byID == nil {
		p.byID = map[string]int{}
	}
	p.ids = append(p.ids, id)
	p.byID[id] = len(p.ids)
	return len(p.ids)
}

// Resolve turns "N" or "#N" into the poll's id; anything else (an id
// prefix) is returned as given.
func (p *PollNumbers) Resolve(ref string) (string, error) {
	ref = strings.TrimPrefix(strings.TrimSpace(ref), "#")
	n, err := strconv.Atoi(ref)
	if err != nil || len(ref) >= node.MinPollPrefix {
		return ref, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < 1 || n > len(p.ids) {
		return "", fmt.Errorf("%w: no poll #%d shown here (polls are numbered as they appear)", node.ErrNoSuchPoll, n)
	}
	return p.ids[n-1], nil
}

// PollLines renders a poll as text: a header and one line per option
// with a bar of width cells, a count, a * on our choices and, in a named
// poll, who chose it. num > 0 is the poll's number in the chat.
func PollLines(p node.PollInfo, num, width int) []string {
	state := "open"
	if p.Closed {
		state = "closed"
	}
	kind := "one choice"
	if p.Multi {
		kind = "several choices"
	}
	if p.Anonymous {
		kind += ", anonymous"
	}
	head := ""
	if num > 0 {
		head = fmt.Sprintf("poll #%d: ", num)
	}
	out := []string{fmt.Sprintf("%s%s  (%s; %s; %d voted)", head, termtext.OneLine(p.Question), kind, state, p.TotalVoters)}
	for i, o := range p.Options {
		mine := " "
		if o.Mine {
			mine = "*"
		}
		line := fmt.Sprintf("%s %2d. %s %s %d", mine, i+1, Bar(o.Count, p.TotalVoters, width), termtext.OneLine(o.Text), o.Count)
		if len(o.Voters) > 0 {
			names := make([]string, len(o.Voters))
			for j, v := range o.Voters {
				names[j] = termtext.OneLine(v.Name)
				if names[j] == "" {
					names[j] = v.ID[max(0, len(v.ID)-8):]
				}
			}
			line += " (" + strings.Join(names, ", ") + ")"
		}
		out = append(out, line)
	}
	return out
}

// Bar is a bar of count out of total in width cells.
func Bar(count, total, width int) string {
	n := 0
	if total > 0 {
		n = (count*width + total/2) / total
	}
	n = min(max(n, 0), width)
	return strings.Repeat("█", n) + strings.Repeat("░", width-n)
}
