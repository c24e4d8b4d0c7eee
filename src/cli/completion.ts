// `pier completion bash|zsh`: a shell completion script generated from the command table, so it always knows every
// command, alias and flag. zsh runs the bash script through its bashcompinit layer.
import { UsageError } from './args.ts';
import { GLOBAL_FLAGS, type Command } from './command.ts';

/** Every command path (by name and by alias) → the words that may follow it (subcommands and flags). */
export function completionTable(root: Command): Map<string, string[]> {
  const table = new Map<string, string[]>();
  const walk = (cmd: Command, paths: string[]): void => {
    const words = [
      ...(cmd.subcommands ?? []).map((c) => c.name),
      ...[...(cmd.flags ?? []), ...GLOBAL_FLAGS].map((f) => `--${f.name}`),
    ];
    for (const p of paths) table.set(p, [...new Set(words)]);
    for (const sub of cmd.subcommands ?? []) {
      const names = [sub.name, ...(sub.aliases ?? [])];
      walk(sub, paths.flatMap((p) => names.map((n) => (p ? `${p} ${n}` : n))));
    }
  };
  walk(root, ['']);
  return table;
}

/** The bash completion script. */
export function bashCompletion(root: Command): string {
  const cases = [...completionTable(root)].map(([path, words]) => `    ${JSON.stringify(path)}) echo ${JSON.stringify(words.join(' '))} ;;`);
  return `# pier completion for bash: source <(pier completion bash)
_pier_words() {
  case "$1" in
${cases.join('\n')}
  esac
}
_pier() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    if [ -n "$(_pier_words "\${path:+$path }$w")" ]; then path="\${path:+$path }$w"; fi
  done
  COMPREPLY=($(compgen -W "$(_pier_words "$path")" -- "$cur"))
}
complete -o default -F _pier pier
`;
}

/** The zsh completion script: the bash one through zsh's bashcompinit. */
export function zshCompletion(root: Command): string {
  return `# pier completion for zsh: source <(pier completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(root).split('\n').slice(1).join('\n')}`;
}

/** `pier completion bash|zsh`; `root` gives the finished command table (this command is part of it). */
export function completionCommand(root: () => Command): Command {
  return {
    name: 'completion',
    summary: 'Print a shell completion script (bash or zsh)',
    usage: 'bash|zsh', args: [1, 1],
    examples: ['source <(pier completion bash)   # add it to ~/.bashrc', 'source <(pier completion zsh)    # add it to ~/.zshrc'],
    run: async (ctx) => {
      const shell = ctx.args.positionals[0];
      if (shell === 'bash') ctx.io.stdout(bashCompletion(root()));
      else if (shell === 'zsh') ctx.io.stdout(zshCompletion(root()));
      else throw new UsageError(`completion is available for bash and zsh, not "${shell}"`);
      return 0;
    },
  };
}
