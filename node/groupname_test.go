package node

import (
	"context"
	"strings"
	"testing"
)

func TestCreateGroupTakenName(t *testing.T) {
	n := newTestNode(t, "ana", "")
	ctx := context.Background()
	var names []string
	for range 3 {
		gi, err := n.CreateGroup(ctx, "Team", false)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, gi.Name+"|"+gi.RequestedName+"|"+NameTakenNotice(gi))
	}
	want := []string{"Team||", "Team (2)|Team|name 'Team' is taken; created as 'Team (2)'", "Team (3)|Team|name 'Team' is taken; created as 'Team (3)'"}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s", strings.Join(names, "\n"))
	}
	if _, err := n.Group("Team (2)"); err != nil { // the distinct name resolves
		t.Fatal(err)
	}
	long := strings.Repeat("x", MaxNameLen)
	if _, err := n.CreateGroup(ctx, long, false); err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateGroup(ctx, long, false); err == nil || !strings.Contains(err.Error(), "choose another name") {
		t.Fatalf("a taken name at the length limit: %v", err)
	}
}
