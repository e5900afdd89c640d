// Records how upstream spiffe-helper splits cmd_args: Go's encoding/csv with Comma = ' ',
// one Read(), "" special-cased. Reads a JSON array of strings on stdin, prints one JSON line
// per input: [input, ok, argv-or-error]. Used to record the table in
// core/src/config/cmd_args.rs (Go 1.19): `GO111MODULE=off go run split_cmd_args.go < in.json`.
package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

func split(s string) ([]string, error) {
	if s == "" {
		return []string{}, nil
	}
	r := csv.NewReader(strings.NewReader(s))
	r.Comma = ' '
	return r.Read()
}

func main() {
	var inputs []string
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		panic(err)
	}
	for _, in := range inputs {
		out, err := split(in)
		var row []interface{}
		if err != nil {
			row = []interface{}{in, false, err.Error()}
		} else {
			row = []interface{}{in, true, out}
		}
		b, _ := json.Marshal(row)
		fmt.Println(string(b))
	}
}
