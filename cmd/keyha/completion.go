package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// bashCompletion asks keyha itself for the words that may follow (urfave/cli answers
// --generate-bash-completion with the subcommands, or with the flags after a "-").
const bashCompletion = `# keyha bash completion: source <(keyha completion bash)
_keyha_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]} words
  if [[ $cur == -* ]]; then
    words=$("${COMP_WORDS[@]:0:COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    words=$("${COMP_WORDS[@]:0:COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}
complete -o bashdefault -o default -F _keyha_complete keyha
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:  "completion",
		Usage: "print the shell completion script: source <(keyha completion bash)",
		Subcommands: []*cli.Command{{
			Name:  "bash",
			Usage: "bash (put it in /etc/bash_completion.d/keyha)",
			Action: func(c *cli.Context) error {
				_, err := fmt.Fprint(c.App.Writer, bashCompletion)
				return err
			},
		}},
	}
}
