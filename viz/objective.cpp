// Objective expressions: constructors, algebra, printing, the "logit" resolution and the parser
// of the CLI's objective language (recursive descent, errors name the column):
//   expr    := term (('+' | '-') term)*
//   term    := unary ('*' unary)*                 number * objective scales, objective * objective multiplies
//   unary   := '-' unary | primary
//   primary := number | '(' expr ')' | func '(' args ')' | tv | l1 | l2 | blur | name ':' int
#include "viz/objective.h"

#include <cctype>
#include <cstdlib>
#include <sstream>

#include "core/error.h"

namespace cuviz {

namespace {

using NodePtr = std::shared_ptr<const ObjectiveNode>;

Objective make(ObjectiveNode n) { return Objective(std::make_shared<const ObjectiveNode>(std::move(n))); }

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

Objective channel(const std::string& layer, int c) {
  ObjectiveNode n;
  n.kind = ObjectiveKind::channel;
  n.layer = layer;
  n.channel = c;
  n.label = cat("channel(", layer, ",", c, ")");
  return make(std::move(n));
}

Objective neuron(const std::string& layer, int c, int x, int y) {
  ObjectiveNode n;
  n.kind = ObjectiveKind::channel;
  n.neuron = true;
  n.layer = layer;
  n.channel = c;
  n.x = x;
  n.y = y;
  n.label = x < 0 && y < 0 ? cat("neuron(", layer, ",", c, ")") : cat("neuron(", layer, ",", c, ",", x, ",", y, ")");
  return make(std::move(n));
}

Objective deepdream(const std::string& layer) {
  ObjectiveNode n;
  n.kind = ObjectiveKind::deepdream;
  n.layer = layer;
  n.label = cat("deepdream(", layer, ")");
  return make(std::move(n));
}

Objective class_logit(const std::string& layer, int k) {
  ObjectiveNode n;
  n.kind = ObjectiveKind::channel;
  n.neuron = true;
  n.x = 0;
  n.y = 0;
  n.layer = layer;
  n.channel = k;
  n.label = cat("logit(", layer, ",", k, ")");
  return make(std::move(n));
}

Objective direction(const std::string& layer, std::vector<float> v) {
  ObjectiveNode n;
  n.kind = ObjectiveKind::direction;
  n.layer = layer;
  n.vec = std::move(v);
  n.label = cat("direction(", layer, ",[", n.vec.size(), " values])");
  return make(std::move(n));
}

Objective direction_cossim(const std::string& layer, std::vector<float> v) {
  ObjectiveNode n;
  n.kind = ObjectiveKind::direction_cossim;
  n.layer = layer;
  n.vec = std::move(v);
  n.label = cat("direction_cossim(", layer, ",[", n.vec.size(), " values])");
  return make(std::move(n));
}

Objective diversity(const std::string& layer) {
  ObjectiveNode n;
  n.kind = ObjectiveKind::diversity;
  n.layer = layer;
  n.label = cat("diversity(", layer, ")");
  return make(std::move(n));
}

Objective channel_interpolate(const std::string& layer1, int c1, const std::string& layer2, int c2) {
  ObjectiveNode n;
  n.kind = ObjectiveKind::channel_interpolate;
  n.layer = layer1;
  n.channel = c1;
  n.layer2 = layer2;
  n.channel2 = c2;
  n.label = cat("interpolate(", layer1, ",", c1, ",", layer2, ",", c2, ")");
  return make(std::move(n));
}

namespace {
Objective regularizer(RegKind k, float constant, std::string label) {
  ObjectiveNode n;
  n.kind = ObjectiveKind::regularizer;
  n.reg = k;
  n.reg_constant = constant;
  n.label = std::move(label);
  return make(std::move(n));
}
}  // namespace

Objective l1(float constant) { return regularizer(RegKind::l1, constant, cat("l1(", num(constant), ")")); }
Objective l2(float constant) { return regularizer(RegKind::l2, constant, cat("l2(", num(constant), ")")); }
Objective total_variation() { return regularizer(RegKind::tv, 0.f, "tv"); }
Objective blur() { return regularizer(RegKind::blur, 0.f, "blur"); }

Objective constant(double v) {
  ObjectiveNode n;
  n.kind = ObjectiveKind::constant;
  n.scalar = v;
  n.label = num(v);
  return make(std::move(n));
}

Objective operator+(const Objective& a, const Objective& b) {
  CUVIZ_CHECK(a.defined() && b.defined(), "objective: '+' of an empty objective");
  ObjectiveNode n;
  n.kind = ObjectiveKind::add;
  n.a = a.ptr();
  n.b = b.ptr();
  return make(std::move(n));
}

Objective operator*(double s, const Objective& a) {
  CUVIZ_CHECK(a.defined(), "objective: scaling an empty objective");
  if (a.node().kind == ObjectiveKind::constant) return constant(s * a.node().scalar);
  if (a.node().kind == ObjectiveKind::scale) return (s * a.node().scalar) * Objective(a.node().a);
  ObjectiveNode n;
  n.kind = ObjectiveKind::scale;
  n.scalar = s;
  n.a = a.ptr();
  return make(std::move(n));
}
Objective operator*(const Objective& a, double s) { return s * a; }
Objective operator-(const Objective& a) { return -1.0 * a; }
Objective operator-(const Objective& a, const Objective& b) { return a + (-1.0 * b); }

Objective operator*(const Objective& a, const Objective& b) {
  CUVIZ_CHECK(a.defined() && b.defined(), "objective: '*' of an empty objective");
  if (a.node().kind == ObjectiveKind::constant) return a.node().scalar * b;
  if (b.node().kind == ObjectiveKind::constant) return b.node().scalar * a;
  ObjectiveNode n;
  n.kind = ObjectiveKind::mul;
  n.a = a.ptr();
  n.b = b.ptr();
  return make(std::move(n));
}

namespace {

std::string node_str(const ObjectiveNode& n) {
  switch (n.kind) {
    case ObjectiveKind::add: {
      // a + (-s * b) prints as a - s*b.
      const ObjectiveNode& b = *n.b;
      if (b.kind == ObjectiveKind::scale && b.scalar < 0) {
        const std::string rhs = b.scalar == -1 ? node_str(*b.a) : cat(num(-b.scalar), "*", node_str(*b.a));
        return cat(node_str(*n.a), " - ", rhs);
      }
      return cat(node_str(*n.a), " + ", node_str(b));
    }
    case ObjectiveKind::scale: {
      const bool paren = n.a->kind == ObjectiveKind::add;
      const std::string inner = paren ? cat("(", node_str(*n.a), ")") : node_str(*n.a);
      return n.scalar == -1 ? cat("-", inner) : cat(num(n.scalar), "*", inner);
    }
    case ObjectiveKind::mul: {
      auto side = [](const ObjectiveNode& s) {
        return s.kind == ObjectiveKind::add ? cat("(", node_str(s), ")") : node_str(s);
      };
      return cat(side(*n.a), " * ", side(*n.b));
    }
    default: return n.label;
  }
}

}  // namespace

std::string Objective::str() const { return node_ ? node_str(*node_) : std::string("(none)"); }

std::string class_logit_layer(const Graph& graph) {
  for (const LayerDesc& l : graph.layers)
    if (l.kind == LayerKind::softmax) return l.inputs.at(0);
  CUVIZ_CHECK(!graph.layers.empty(), "objective: logit: model ", graph.name, " has no layers");
  return graph.layers.back().output;
}

namespace {

NodePtr resolve(const NodePtr& n, const std::string& logit) {
  if (!n) return n;
  NodePtr a = resolve(n->a, logit), b = resolve(n->b, logit);
  const bool rename = n->layer == "logit";
  if (a == n->a && b == n->b && !rename) return n;
  auto copy = std::make_shared<ObjectiveNode>(*n);
  copy->a = a;
  copy->b = b;
  if (rename) {
    copy->layer = logit;
    copy->label = cat("logit(", logit, ",", n->channel, ")");
  }
  return copy;
}

void collect_layers(const ObjectiveNode& n, std::vector<std::string>& out) {
  auto add = [&](const std::string& l) {
    if (l.empty()) return;
    for (const auto& o : out)
      if (o == l) return;
    out.push_back(l);
  };
  add(n.layer);
  add(n.layer2);
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
    throw Error(cat("objective '", s_, "': ", what, " at column ", pos_ + 1));
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

  Objective expr() {
    Objective e = term();
    for (;;) {
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
    while (eat('*')) e = e * unary();
    return e;
  }
  Objective unary() {
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
    if (id == "tv" || id == "total_variation") return total_variation();
    if (id == "l1") return l1(0.5f);
    if (id == "l2") return l2(0.f);
    if (id == "blur") return blur();
    pos_ = start;
    fail(cat("'", id, "' is not an objective (write LAYER:CHANNEL, logit:K, a function like channel(LAYER,C), "
                      "or tv, l1, l2, blur)"));
  }

  Objective call(const std::string& f, size_t start) {
    expect('(');
    Objective r;
    if (f == "channel" || f == "neuron") {
      const std::string layer = name("a layer name");
      expect(',');
      const int c = integer("a channel number");
      if (f == "channel") {
        r = channel(layer, c);
      } else {
        int x = -1, y = -1;
        if (eat(',')) {
          x = integer("a column x");
          expect(',');
          y = integer("a row y");
        }
        r = neuron(layer, c, x, y);
      }
    } else if (f == "logit" || f == "class_logit") {
      const int k = integer("a class number");
      r = class_logit("logit", k);
    } else if (f == "deepdream" || f == "diversity") {
      const std::string layer = name("a layer name");
      r = f == "deepdream" ? deepdream(layer) : diversity(layer);
    } else if (f == "direction" || f == "direction_cossim") {
      const std::string layer = name("a layer name");
      std::vector<float> v;
      while (eat(',')) {
        const bool neg = eat('-');
        v.push_back(float(neg ? -number() : number()));
      }
      if (v.empty()) fail("expected the direction's values after the layer");
      r = f == "direction" ? direction(layer, std::move(v)) : direction_cossim(layer, std::move(v));
    } else if (f == "interpolate" || f == "channel_interpolate") {
      const std::string l1n = name("a layer name");
      expect(',');
      const int c1 = integer("a channel number");
      expect(',');
      const std::string l2n = name("a layer name");
      expect(',');
      const int c2 = integer("a channel number");
      r = channel_interpolate(l1n, c1, l2n, c2);
    } else if (f == "l1" || f == "l2") {
      float c = f == "l1" ? 0.5f : 0.f;
      skip();
      if (pos_ < s_.size() && s_[pos_] != ')') {
        const bool neg = eat('-');
        c = float(neg ? -number() : number());
      }
      r = f == "l1" ? l1(c) : l2(c);
    } else if (f == "tv" || f == "total_variation" || f == "blur") {
      r = f == "blur" ? blur() : total_variation();
    } else {
      pos_ = start;
      fail(cat("unknown function '", f,
               "' (channel, neuron, logit, deepdream, diversity, direction, direction_cossim, interpolate, l1, l2, "
               "tv, blur)"));
    }
    expect(')');
    return r;
  }

  const std::string& s_;
  size_t pos_ = 0;
};

}  // namespace

Objective parse_objective(const std::string& text) { return Parser(text).parse(); }

}  // namespace cuviz
