// Objective expressions: printing, the "logit" resolution, the layers read and the parser of the
// CLI's objective language (recursive descent, errors name the column):
//   expr    := term (('+' | '-') term)*
//   term    := unary ('*' unary)*                 number * objective scales, objective * objective multiplies
//   unary   := '-' unary | primary
//   primary := number | '(' expr ')' | NAME '(' args ')' | NAME | LAYER ':' int
// A call or a bare NAME is a registered term (viz/objective_terms.cpp): the term's parse hook
// reads its arguments, so the grammar of each term lives with the term. The terms themselves
// (constructors, printing, evaluation) are in viz/term_*.cpp.
#include "viz/objective.h"

#include <cctype>
#include <cstring>
#include <algorithm>
#include <cstdlib>

#include "core/error.h"
#include "viz/objective_term.h"

namespace cuviz {

std::string Objective::str() const { return node_ ? node_->term->print(*node_) : std::string("(none)"); }

std::string class_logit_layer(const Graph& graph) {
  for (const LayerDesc& l : graph.layers)
    if (l.kind == LayerKind::softmax) return l.inputs.at(0);
  CUVIZ_CHECK(!graph.layers.empty(), "objective: logit: model ", graph.name, " has no layers");
  return graph.layers.back().output;
}

namespace {

using NodePtr = std::shared_ptr<const ObjectiveNode>;

NodePtr resolve(const NodePtr& n, const std::string& logit) {
  if (!n) return n;
  NodePtr a = resolve(n->a, logit), b = resolve(n->b, logit);
  const bool rename = std::find(n->layers.begin(), n->layers.end(), "logit") != n->layers.end();
  if (a == n->a && b == n->b && !rename) return n;
  auto copy = std::make_shared<ObjectiveNode>(*n);
  copy->a = a;
  copy->b = b;
  for (std::string& l : copy->layers)
    if (l == "logit") l = logit;
  return copy;
}

void collect_layers(const ObjectiveNode& n, std::vector<std::string>& out) {
  auto add = [&](const std::string& l) {
    if (l.empty()) return;
    for (const auto& o : out)
      if (o == l) return;
    out.push_back(l);
  };
  for (const std::string& l : n.layers) add(l);
  if (n.a) collect_layers(*n.a, out);
  if (n.b) collect_layers(*n.b, out);
}

}  // namespace

Objective resolve_objective(const Objective& obj, const Graph& graph) {
  CUVIZ_CHECK(obj.defined(), "objective: empty objective");
  std::vector<std::string> layers;
  collect_layers(obj.node(), layers);
  for (const auto& l : layers)
    if (l == "logit") return Objective(resolve(obj.ptr(), class_logit_layer(graph)));
  return obj;
}

std::vector<std::string> objective_layers(const Objective& obj) {
  std::vector<std::string> out;
  if (obj.defined()) collect_layers(obj.node(), out);
  return out;
}

// ---- the parser ------------------------------------------------------------------------------

namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  Objective parse() {
    skip();
    if (pos_ >= s_.size()) fail("empty objective");
    Objective e = expr();
    skip();
    if (pos_ < s_.size()) fail(cat("unexpected '", s_[pos_], "'"));
    return e;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    // A very long expression is shown by its first 60 characters, so the error stays one line.
    const std::string shown = s_.size() <= 100 ? s_ : s_.substr(0, 60) + "...";
    throw Error(cat("objective '", shown, "': ", what, " at column ", pos_ + 1));
  }
  // Whether the next non-space character is one of `ops` (without consuming it).
  bool peek_operator(const char* ops) {
    skip();
    return pos_ < s_.size() && std::strchr(ops, s_[pos_]) != nullptr;
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(pos_ < s_.size() ? cat("expected '", c, "', found '", s_[pos_], "'") : cat("expected '", c, "'"));
  }
  static bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '/' || c == '.';
  }
  bool at_number() {
    skip();
    return pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.');
  }

  double number() {
    skip();
    const char* begin = s_.c_str() + pos_;
    char* end = nullptr;
    const double v = std::strtod(begin, &end);
    if (end == begin) fail("expected a number");
    pos_ += size_t(end - begin);
    return v;
  }
  int integer(const char* what) {
    skip();
    const size_t start = pos_;
    bool neg = eat('-');
    skip();
    if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_]))) fail(cat("expected ", what));
    long v = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      v = v * 10 + (s_[pos_++] - '0');
      if (v > 1000000000) {
        pos_ = start;
        fail(cat(what, " too large"));
      }
    }
    return int(neg ? -v : v);
  }
  // A layer or blob name, with an optional ":pre" suffix (pre-activation).
  std::string name(const char* what) {
    skip();
    const size_t start = pos_;
    while (pos_ < s_.size() && name_char(s_[pos_])) ++pos_;
    if (pos_ == start) fail(cat("expected ", what));
    std::string n = s_.substr(start, pos_ - start);
    if (s_.compare(pos_, 4, ":pre") == 0 && (pos_ + 4 == s_.size() || !name_char(s_[pos_ + 4]))) {
      n += ":pre";
      pos_ += 4;
    }
    return n;
  }

  // Each + - * makes the tree one level deeper (left-leaning): their number is limited too, so
  // that evaluating or freeing the tree cannot recurse without bound either.
  static constexpr int kMaxOperators = 4096;
  void count_operator() {
    if (++operators_ > kMaxOperators) fail(cat("more than ", kMaxOperators, " operators"));
  }
  Objective expr() {
    Objective e = term();
    for (;;) {
      if (peek_operator("+-")) count_operator();
      if (eat('+'))
        e = e + term();
      else if (eat('-'))
        e = e - term();
      else
        return e;
    }
  }
  Objective term() {
    Objective e = unary();
    while (eat('*')) {
      count_operator();
      e = e * unary();
    }
    return e;
  }
  // Nesting (parentheses and unary signs) is limited: the parser recurses once per level, and
  // 10,000 '(' or 120,000 '-' would otherwise overflow the stack instead of giving an error.
  static constexpr int kMaxDepth = 256;
  struct Nest {
    explicit Nest(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) p_.fail(cat("nested more than ", kMaxDepth, " levels deep (parentheses and signs)"));
    }
    ~Nest() { --p_.depth_; }
    Parser& p_;
  };
  Objective unary() {
    const Nest nest(*this);
    if (eat('-')) return -unary();
    if (eat('+')) return unary();
    return primary();
  }

  Objective primary() {
    skip();
    if (pos_ >= s_.size()) fail("expected an objective");
    if (eat('(')) {
      Objective e = expr();
      expect(')');
      return e;
    }
    if (at_number()) return constant(number());
    const size_t start = pos_;
    const std::string id = name("an objective");
    skip();
    if (pos_ < s_.size() && s_[pos_] == '(') return call(id, start);
    if (eat(':')) {
      const int c = integer("a channel number after ':'");
      if (id == "logit") return class_logit("logit", c);
      return channel(id, c);
    }
    if (const ObjectiveTerm* t = find_objective_term(id); t && t->bare) {
      Args args(*this, *t, /*bare=*/true);
      return t->parse(args);
    }
    pos_ = start;
    fail(cat("'", id, "' is not an objective (write LAYER:CHANNEL, logit:K, a function like channel(LAYER,C), "
                      "or tv, l1, l2, blur)"));
  }

  // NAME '(' args ')': the term's parse hook reads the arguments; the parser checks the ')'.
  Objective call(const std::string& f, size_t start) {
    const ObjectiveTerm* t = find_objective_term(f);
    if (!t) {
      pos_ = start;
      std::string names;
      for (const ObjectiveTerm* k : objective_terms())
        if (k->parse) names += cat(names.empty() ? "" : ", ", k->name);
      fail(cat("unknown function '", f, "'", objective_term_suggestion(f), " (", names, ")"));
    }
    expect('(');
    Args args(*this, *t, /*bare=*/false);
    Objective r = t->parse(args);
    skip();
    if (pos_ < s_.size() && s_[pos_] == ',') fail(cat("too many arguments for ", t->name, ": ", t->usage));
    expect(')');
    return r;
  }

  // The argument reader handed to a term's parse hook (viz/objective_term.h). A bare word has no
  // list: every read fails, at_end() is true.
  class Args final : public TermArgs {
   public:
    Args(Parser& p, const ObjectiveTerm& t, bool bare) : p_(p), t_(t), bare_(bare) {}
    std::string layer() override {
      need("a layer name");
      return p_.name("a layer name");
    }
    int integer(const char* what) override {
      need(what);
      return p_.integer(what);
    }
    double number(const char* what) override {
      need(what);
      const bool neg = p_.eat('-');
      const double v = p_.number();
      return neg ? -v : v;
    }
    void comma() override {
      need("','");
      if (!p_.eat(','))
        p_.fail(cat(p_.pos_ < p_.s_.size() ? cat("expected ',', found '", p_.s_[p_.pos_], "'") : "expected ','",
                    " (", t_.usage, ")"));
    }
    bool next() override { return !bare_ && p_.eat(','); }
    bool at_end() override {
      p_.skip();
      return bare_ || p_.pos_ >= p_.s_.size() || p_.s_[p_.pos_] == ')';
    }
    [[noreturn]] void fail(const std::string& what) override { p_.fail(what); }

   private:
    // A bare word that needs arguments (unreachable for the bare terms, which read none).
    void need(const char* what) {
      if (bare_) p_.fail(cat(t_.name, " needs ", what, ": ", t_.usage));
    }
    Parser& p_;
    const ObjectiveTerm& t_;
    bool bare_;
  };

  const std::string& s_;
  size_t pos_ = 0;
  int depth_ = 0;      // current nesting, see Nest
  int operators_ = 0;  // binary operators read so far
};

}  // namespace

Objective parse_objective(const std::string& text) { return Parser(text).parse(); }

}  // namespace cuviz
