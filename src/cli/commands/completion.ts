/**
 * `completion <bash|zsh>`: a completion script made from the command table itself (so it cannot
 * fall behind a new flag), completing commands, their flags, and the built-in scenario and
 * scheme names after --scenario and --scheme (files too, since both take a path).
 */
import { InputError } from '../../vocab/errors.js';
import { builtinSchemes } from '../../schemes/catalogue.js';
import { EXIT_CLEAN, type Io } from '../io.js';
import { builtinScenarios } from '../resolve.js';

export interface CompletionCommand {
  readonly name: string;
  readonly description: string;
  readonly flags: ReadonlyArray<{ readonly flag: string; readonly takesValue: boolean; readonly description: string }>;
}

/** The values a flag's argument completes to, beyond file names. */
interface Values {
  readonly scenarios: readonly string[];
  readonly schemes: readonly string[];
}

export function bashCompletion(commands: readonly CompletionCommand[], v: Values): string {
  const cases = commands.map((c) => `    ${c.name}) words="${['--help', ...c.flags.map((f) => f.flag)].join(' ')}" ;;`);
  return `# bash completion for iommu-model: eval "$(npx iommu-model completion bash)"
# or save it as ~/.local/share/bash-completion/completions/iommu-model
_iommu_model() {
  local cur prev words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
    --scenario) COMPREPLY=( $(compgen -W "${v.scenarios.join(' ')}" -f -- "$cur") ); return ;;
    --scheme) COMPREPLY=( $(compgen -W "${v.schemes.join(' ')}" -f -- "$cur") ); return ;;
  esac
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.map((c) => c.name).join(' ')} --help --version" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join('\n')}
    *) words="" ;;
  esac
  COMPREPLY=( $(compgen -W "$words" -f -- "$cur") )
}
complete -o filenames -F _iommu_model iommu-model
`;
}

/** Text safe inside a zsh _arguments spec and single quotes: no brackets, colons or quotes. */
function zshText(s: string): string {
  return s.replace(/[[\]:'\\`$]/g, ' ').replace(/\s+/g, ' ').trim();
}

export function zshCompletion(commands: readonly CompletionCommand[], v: Values): string {
  const valueOf = (flag: string): string => (flag === '--scenario' ? `:scenario:(${v.scenarios.join(' ')})` : flag === '--scheme' ? `:scheme:(${v.schemes.join(' ')})` : ':value:_files');
  const cases = commands.map((c) => {
    const specs = c.flags.map((f) => `'${f.flag}[${zshText(f.description)}]${f.takesValue ? valueOf(f.flag) : ''}'`);
    return `    ${c.name}) _arguments ${[...specs, "'*:file:_files'"].join(' ')} ;;`;
  });
  return `#compdef iommu-model
# zsh completion for iommu-model: save it as _iommu-model in a folder of $fpath
# (npx iommu-model completion zsh > ~/.zfunc/_iommu-model; fpath+=~/.zfunc; autoload -U compinit; compinit)
_iommu_model() {
  local -a commands
  commands=(${commands.map((c) => `'${c.name}:${zshText(c.description)}'`).join(' ')})
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases.join('\n')}
  esac
}
compdef _iommu_model iommu-model
`;
}

export function runCompletion(io: Io, shell: string, commands: readonly CompletionCommand[]): number {
  const values = { scenarios: builtinScenarios(), schemes: builtinSchemes().map((s) => s.name) };
  if (shell === 'bash') io.stdout(bashCompletion(commands, values));
  else if (shell === 'zsh') io.stdout(zshCompletion(commands, values));
  else throw new InputError('<command line>', null, '<shell>', `no completion for '${shell}' (bash, zsh)`);
  return EXIT_CLEAN;
}
