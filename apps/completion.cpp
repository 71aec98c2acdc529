// `cuviz completion bash|zsh`: a shell completion script generated from the CLI11 app tree that
// main.cpp built, so that it lists exactly the subcommands and options of this binary.
//
// What the script completes, word by word:
//   - after `cuviz`: the subcommands and the top-level flags;
//   - a word starting with `-`: the options of the subcommand being typed;
//   - the value of an option (`--device c` or `--device=c`): the choices its validator declares
//     (the `{auto,cpu,cuda}` CLI11 prints after the type), nothing for numbers, directories for
//     `--...dir` options, file names for any other text (paths: -o, --labels, --input, ...);
//   - a positional argument: the model names for MODEL, file names for the others (images...).
// A choice written in capitals or with a dot (`--start seed|...|PHOTO|X.npy`) is a placeholder
// for a file: the script offers the literal choices and the file names.
// zsh runs the same function through its bash compatibility layer (bashcompinit).
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/cli_meta.h"
#include "loaders/model.h"

namespace cuviz::app {

namespace {

// What an option's value (or a positional argument) completes to.
struct ValueKind {
  std::vector<std::string> words;  // literal choices
  bool files = false;              // and file names
  bool dirs = false;               // directories only
};

bool visible(const CLI::App* a) { return !a->get_group().empty(); }

// The choices CLI11 shows after the type: "TEXT:{auto,cpu,cuda}" -> {auto, cpu, cuda}.
std::vector<std::string> choices_of(const std::string& type_name) {
  std::vector<std::string> out;
  const size_t b = type_name.find('{'), e = type_name.find('}', b == std::string::npos ? 0 : b);
  if (b == std::string::npos || e == std::string::npos) return out;
  std::string item;
  for (size_t i = b + 1; i <= e; ++i) {
    if (i == e || type_name[i] == ',') {
      if (!item.empty()) out.push_back(item);
      item.clear();
    } else {
      item += type_name[i];
    }
  }
  return out;
}

bool is_placeholder(const std::string& choice) {
  for (char c : choice)
    if (std::isupper(static_cast<unsigned char>(c)) || c == '.') return true;
  return false;
}

ValueKind value_kind(const CLI::Option* opt) {
  ValueKind k;
  const std::string type = opt->get_type_name();
  for (const auto& c : choices_of(type)) {
    if (is_placeholder(c))
      k.files = true;
    else
      k.words.push_back(c);
  }
  if (!k.words.empty() || k.files) return k;
  const std::string base = type.substr(0, type.find(':'));
  if (base == "BOOLEAN") {
    k.words = {"true", "false"};
  } else if (base == "TEXT") {
    const auto& l = opt->get_lnames();
    if (!l.empty() && l[0].size() >= 3 && l[0].compare(l[0].size() - 3, 3, "dir") == 0)
      k.dirs = true;
    else
      k.files = true;
  }
  if (!opt->nonpositional() && opt->get_name() == "model") {
    k.words = known_model_names();
    k.files = true;  // or a path to a model file or directory
  }
  return k;  // numbers (INT, UINT, FLOAT, ...): nothing to offer
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The bash statements that fill COMPREPLY for `k`, the word being completed in $cur.
std::string complete_value(const ValueKind& k) {
  std::string s;
  if (!k.words.empty()) s += "_cuviz_words \"" + join(k.words) + "\"; ";
  if (k.files) s += "_cuviz_files; ";
  if (k.dirs) s += "_cuviz_dirs; ";
  return s + "return";
}

bool takes_value(const CLI::Option* opt) { return opt->get_items_expected_max() > 0; }  // flags expect 0

std::vector<std::string> flag_names(const CLI::Option* opt) {
  std::vector<std::string> out;
  for (const auto& s : opt->get_snames()) out.push_back("-" + s);
  for (const auto& l : opt->get_lnames()) out.push_back("--" + l);
  return out;
}

// A shell function name for subcommand `name` (letters, digits and '_').
std::string function_name(const std::string& name) {
  std::string f = "_cuviz_sub_";
  for (char c : name) f += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return f;
}

// The completion function of one subcommand; $1 is the index of the subcommand's word.
std::string subcommand_function(const CLI::App* cmd) {
  std::vector<std::string> all_flags, valued;
  std::vector<const CLI::Option*> positionals;
  std::string value_cases;
  for (const CLI::Option* opt : cmd->get_options()) {
    if (!opt->nonpositional()) {
      positionals.push_back(opt);
      continue;
    }
    if (opt->get_group().empty()) continue;  // hidden
    const auto names = flag_names(opt);
    all_flags.insert(all_flags.end(), names.begin(), names.end());
    if (!takes_value(opt)) continue;
    valued.insert(valued.end(), names.begin(), names.end());
    std::string pattern;
    for (const auto& n : names) pattern += (pattern.empty() ? "" : "|") + n;
    value_cases += "    " + pattern + ") " + complete_value(value_kind(opt)) + " ;;\n";
  }
  std::string f = function_name(cmd->get_name()) + "() {\n";
  f += "  local valued=\" " + join(valued) + " \"\n";
  f += "  case $prev in\n" + value_cases + "  esac\n";
  f += "  if [[ $cur == -* ]]; then _cuviz_words \"" + join(all_flags) + "\"; return; fi\n";
  if (positionals.empty()) return f + "}\n";
  // Which positional argument is being typed: count the words after the subcommand that are
  // neither options nor the values of options ("--opt value", "--opt = value" as bash splits it).
  f += "  local k=0 j w\n";
  f += "  for ((j = $1 + 1; j < COMP_CWORD; j++)); do\n";
  f += "    w=${COMP_WORDS[j]}\n";
  f += "    if [[ $w == -* ]]; then\n";
  f += "      if [[ $valued == *\" $w \"* ]]; then ((j++)); [[ ${COMP_WORDS[j]} == = ]] && ((j++)); fi\n";
  f += "      continue\n";
  f += "    fi\n";
  f += "    ((k++))\n";
  f += "  done\n";
  f += "  case $k in\n";
  for (size_t i = 0; i < positionals.size(); ++i) {
    const bool last = i + 1 == positionals.size();
    f += "    " + (last ? std::string("*") : std::to_string(i)) + ") " + complete_value(value_kind(positionals[i])) +
         " ;;  # " + positionals[i]->get_name() + "\n";
  }
  return f + "  esac\n}\n";
}

}  // namespace

std::string completion_script(const CLI::App& root, const std::string& shell) {
  std::vector<const CLI::App*> subs = root.get_subcommands([](const CLI::App* a) { return visible(a); });
  std::vector<std::string> names, root_flags;
  for (const CLI::App* s : subs) names.push_back(s->get_name());
  for (const CLI::Option* opt : root.get_options())
    if (opt->nonpositional() && !opt->get_group().empty())
      for (const auto& n : flag_names(opt)) root_flags.push_back(n);

  std::string s;
  if (shell == "zsh") {
    s += "# zsh completion for cuviz: add `source <(cuviz completion zsh)` to ~/.zshrc (after compinit).\n";
    s += "# It is the bash completion, run through zsh's bashcompinit.\n";
    s += "autoload -U +X bashcompinit && bashcompinit\n";
  } else {
    s += "# bash completion for cuviz: `source <(cuviz completion bash)`, or save the output as\n";
    s += "# ~/.local/share/bash-completion/completions/cuviz.\n";
  }
  s += "# Generated by `cuviz completion " + shell + "` from the command line of this cuviz binary.\n\n";
  s += "_cuviz_words() { local IFS=$' \\t\\n'; COMPREPLY+=($(compgen -W \"$1\" -- \"$cur\")); }\n";
  s += "_cuviz_files() {\n";
  s += "  local IFS=$'\\n'; COMPREPLY+=($(compgen -f -- \"$cur\"))\n";
  s += "  type compopt &>/dev/null && compopt -o filenames 2>/dev/null\n";
  s += "}\n";
  s += "_cuviz_dirs() {\n";
  s += "  local IFS=$'\\n'; COMPREPLY+=($(compgen -d -- \"$cur\"))\n";
  s += "  type compopt &>/dev/null && compopt -o filenames 2>/dev/null\n";
  s += "}\n\n";
  for (const CLI::App* sub : subs) s += subcommand_function(sub) + "\n";
  s += "_cuviz() {\n";
  s += "  COMPREPLY=()\n";
  s += "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n";
  s += "  # bash splits `--opt=value` at '=': the option is then one or two words back.\n";
  s += "  if [[ $cur == = ]]; then cur=\"\"; elif [[ $prev == = ]]; then prev=${COMP_WORDS[COMP_CWORD - 2]}; fi\n";
  s += "  local i\n";
  s += "  for ((i = 1; i < COMP_CWORD; i++)); do\n";
  s += "    case ${COMP_WORDS[i]} in\n";
  for (const CLI::App* sub : subs)
    s += "      " + sub->get_name() + ") " + function_name(sub->get_name()) + " \"$i\"; return ;;\n";
  s += "    esac\n";
  s += "  done\n";
  s += "  if [[ $cur == -* ]]; then _cuviz_words \"" + join(root_flags) + "\"; else _cuviz_words \"" + join(names) +
       "\"; fi\n";
  s += "}\n";
  s += "complete -F _cuviz cuviz\n";
  return s;
}

Command add_completion_command(CLI::App& app) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("completion", "Print a shell completion script (bash or zsh) for cuviz");
  cmd->add_option("shell", *shell, "The shell: bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  return {cmd, [shell, &app] { std::fputs(completion_script(app, *shell).c_str(), stdout); }};
}

}  // namespace cuviz::app
