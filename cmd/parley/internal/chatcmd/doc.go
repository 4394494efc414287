// Package chatcmd is the one table of chat slash commands (/create, /join,
// /invite, /switch, /groups, ...) shared by the full-screen chat (tui) and
// the line chat of `parley up --plain`. The table holds each command's name,
// aliases, arguments and help, parses and checks the arguments, and calls the
// front end through the small Front interface; each front end only decides
// how an action looks on its screen. /help in both is built from the table.
package chatcmd
