package store

import (
	"bytes"
	"testing"
)

func TestMembershipRecords(t *testing.T) {
	s, err := Open("", InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var g, other GroupID
	g[0], other[0] = 1, 2
	var a, b [OpIDLen]byte
	a[0], b[0] = 0xa, 0xb
	if err := s.PutMembershipOp(g, a, []byte("op-a")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMembershipOp(g, b, []byte("op-b")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMembershipOp(other, a, []byte("other")); err != nil {
		t.Fatal(err)
	}
	ops, err := s.MembershipOps(g)
	if err != nil || len(ops) != 2 || !bytes.Equal(ops[0], []byte("op-a")) || !bytes.Equal(ops[1], []byte("op-b")) {
		t.Fatalf("ops %q %v", ops, err)
	}
	if err := s.PutEpochSecret(g, a, []byte("secret-a")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutEpochSecret(g, b, []byte("secret-b")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEpochSecret(g, a); err != nil {
		t.Fatal(err)
	}
	sec, err := s.EpochSecrets(g)
	if err != nil || len(sec) != 1 || string(sec[b]) != "secret-b" {
		t.Fatalf("secrets %q %v", sec, err)
	}
	if sec, _ := s.EpochSecrets(other); len(sec) != 0 {
		t.Fatalf("other group's secrets %q", sec)
	}
}

// A reader keeps names and replayed logs while MembershipVersion stands, so
// every membership write must move it.
func TestMembershipVersionMovesOnEveryWrite(t *testing.T) {
	s := openMem(t)
	var g GroupID
	g[0] = 1
	v0 := s.MembershipVersion()
	if err := s.PutMembershipOp(g, [OpIDLen]byte{1}, []byte("op")); err != nil {
		t.Fatal(err)
	}
	v1 := s.MembershipVersion()
	if v1 == v0 {
		t.Fatal("an op write left the version")
	}
	if err := s.PutMember(g, Member{Author: []byte("ana"), DisplayName: "Ana"}); err != nil {
		t.Fatal(err)
	}
	if s.MembershipVersion() == v1 {
		t.Fatal("a member write left the version")
	}
}
