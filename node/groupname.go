package node

import (
	"fmt"
	"strings"
)

// Group names are how people refer to groups (resolve takes a name), so a
// new group never takes a name one of ours already has: CreateGroup makes
// it distinct ("Team (2)") and says so in GroupInfo.RequestedName.

// distinctGroupName is name, or the first "name (k)" no held group uses.
func (l *Local) distinctGroupName(name string) (string, error) {
	groups, err := l.st.Groups()
	if err != nil {
		return "", err
	}
	taken := make(map[string]bool, len(groups))
	for _, g := range groups {
		taken[g.Name] = true
	}
	cand := name
	for k := 2; taken[cand]; k++ {
		cand = fmt.Sprintf("%s (%d)", name, k)
	}
	if cand != name && len(cand) > MaxNameLen {
		return "", fmt.Errorf("%w: a group is already named %q; choose another name", ErrInvalidInput, name)
	}
	return cand, nil
}

// NameTakenNotice is what a front end shows when CreateGroup had to change
// the name, or "" when it did not.
func NameTakenNotice(gi GroupInfo) string {
	if gi.RequestedName == "" || gi.RequestedName == gi.Name {
		return ""
	}
	return fmt.Sprintf("name '%s' is taken; created as '%s'", oneLine(gi.RequestedName), oneLine(gi.Name))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
