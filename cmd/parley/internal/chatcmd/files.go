package chatcmd

// FileFront is a front end that sends files (both chats).
type FileFront interface {
	SendFile(path string) error // to the current group
}

func isFileFront(f Front) bool { _, ok := f.(FileFront); return ok }

// init adds /file before /help.
func init() {
	c := &Command{Name: "file", Aliases: []string{"attach"}, Args: "PATH", NeedArg: true, offered: isFileFront,
		Help: "send the file at PATH to the current group (members fetch it from you)",
		Run:  func(f Front, arg string) error { return f.(FileFront).SendFile(unquote(arg)) }}
	for i, t := range table {
		if t.Name == "help" {
			table = append(table[:i], append([]*Command{c}, table[i:]...)...)
			return
		}
	}
	table = append(table, c)
}

// unquote strips one pair of surrounding quotes (a path pasted with them).
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}
