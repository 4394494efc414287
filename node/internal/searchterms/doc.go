// Package searchterms turns message text into the terms the store's search
// index keeps, and a query into the terms to look up: the same folding on
// both sides is what makes a query match.
package searchterms
