//! What a Rhai step can reach, read from its compiled script (the lab library merged
//! in) without running it: the capability operations `run` can call, directly or
//! through the library's helpers (what `labrun describe` lists), and every catalog
//! message it can report (`msg(id, key…)`, checked against the catalog at load, so a
//! missing fail-path template is refused before a class, not met in one).
//!
//! Reachable means: `run`, the script's top-level statements and every closure, then
//! whatever they call by name or as `Fn("name")`. A function pointer made from a
//! computed name (`Fn(name)`) could be any function: then every function counts as
//! reachable, so the operations are never fewer than a run can call (`labrun
//! iam-policy` grants from them).

use std::collections::{BTreeMap, BTreeSet};

use rhai::{ASTNode, Expr, FnCallExpr, Position, Stmt, AST};

/// A `msg(id, key…)` call: its id and key when both are string literals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgCall {
    pub literal: Option<(String, String)>,
    pub position: Position,
}

/// What one function (or the top-level statements) calls.
#[derive(Debug, Default)]
struct Calls {
    /// Script functions called by name, or named in `Fn("…")`.
    functions: BTreeSet<String>,
    /// `capability::operation` calls, as (capability, operation).
    operations: BTreeSet<(String, String)>,
    msgs: Vec<MsgCall>,
    /// `Fn(…)` of a computed name: a call of any function.
    any_function: bool,
}

/// The script's reach, from `run`.
#[derive(Debug, Default)]
pub struct Reach {
    /// (capability, operation), sorted.
    pub operations: BTreeSet<(String, String)>,
    pub msgs: Vec<MsgCall>,
}

/// Walks `ast` (a step with the lab library merged in) from `run`.
pub fn reach(ast: &AST) -> Reach {
    let mut by_function: BTreeMap<String, Calls> = BTreeMap::new();
    for f in ast.iter_functions() {
        let name = f.name.to_string();
        if by_function.contains_key(&name) {
            continue; // another arity of the same name: one body holds them all
        }
        // Every arity of the name (rhai's clone_functions_only_filtered keeps them all
        // when it starts empty: retain is the filter that filters).
        let mut only = ast.clone_functions_only();
        only.retain_functions(|_, _, n, _| n == name);
        by_function.insert(name, calls(&only));
    }
    let mut roots: Vec<String> = vec!["run".to_string()];
    // Closures are functions of their own (`anon$…`): each counts as reachable.
    roots.extend(
        by_function
            .keys()
            .filter(|n| n.starts_with("anon$"))
            .cloned(),
    );
    let top = calls(&ast.clone_statements_only());
    let mut out = Reach {
        operations: top.operations.clone(),
        msgs: top.msgs.clone(),
    };
    roots.extend(top.functions);
    let mut seen = BTreeSet::new();
    let mut all_added = false;
    while let Some(name) = roots.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(c) = by_function.get(&name) else {
            continue; // a native function (len, push, …) or a capability module's
        };
        out.operations.extend(c.operations.iter().cloned());
        out.msgs.extend(c.msgs.iter().cloned());
        roots.extend(c.functions.iter().cloned());
        if (c.any_function || top.any_function) && !all_added {
            all_added = true;
            roots.extend(by_function.keys().cloned());
        }
    }
    out
}

fn calls(ast: &AST) -> Calls {
    let mut c = Calls::default();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            // A call is an expression, or a statement of its own (`lookup(w);`).
            Some(ASTNode::Expr(Expr::FnCall(call, position)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, position))) => c.call(call, *position),
            Some(ASTNode::Expr(Expr::DynamicConstant(value, _))) => {
                if let Some(f) = value.read_lock::<rhai::FnPtr>() {
                    c.functions.insert(f.fn_name().to_string());
                }
            }
            _ => {}
        }
        true
    });
    c
}

impl Calls {
    fn call(&mut self, call: &FnCallExpr, position: Position) {
        if let Some(module) = call.namespace.path.first() {
            self.operations
                .insert((module.name.to_string(), call.name.to_string()));
            return;
        }
        let literal = |i: usize| match call.args.get(i) {
            Some(Expr::StringConstant(s, _)) => Some(s.to_string()),
            _ => None,
        };
        match call.name.as_str() {
            "Fn" => match literal(0) {
                Some(name) => {
                    self.functions.insert(name);
                }
                None => self.any_function = true,
            },
            "msg" if call.args.len() == 2 || call.args.len() == 3 => self.msgs.push(MsgCall {
                literal: literal(0).zip(literal(1)),
                position,
            }),
            name => {
                self.functions.insert(name.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(script: &str) -> AST {
        rhai::Engine::new().compile(script).unwrap()
    }

    fn ops(r: &Reach) -> Vec<String> {
        r.operations
            .iter()
            .map(|(c, o)| format!("{c}.{o}"))
            .collect()
    }

    #[test]
    fn operations_are_those_run_reaches_through_helpers_and_closures() {
        let r = reach(&compiled(
            r#"
            fn lookup(name) { aws::ec2_describe_vpcs().Vpcs.filter(|v| v.Name == name) }
            fn via_pointer(w, st) { dns::lookup(#{ name: w }) }
            fn in_closure() { [1].map(|x| mysql::query(#{ sql: "x" })) }
            fn unused() { aws::rds_describe_db_clusters() }
            fn run(p) {
                lookup("a");
                guard("A1", Fn("via_pointer"), p, #{});
                in_closure();
            }
            "#,
        ));
        assert_eq!(
            ops(&r),
            ["aws.ec2_describe_vpcs", "dns.lookup", "mysql.query"]
        );
    }

    #[test]
    fn a_pointer_to_a_computed_name_reaches_every_function() {
        let r = reach(&compiled(
            r#"
            fn a1(w, st) { aws::ec2_describe_vpcs() }
            fn unused() { aws::rds_describe_db_clusters() }
            fn run(p) { let name = "a" + "1"; Fn(name).call(p, #{}) }
            "#,
        ));
        assert_eq!(
            ops(&r),
            ["aws.ec2_describe_vpcs", "aws.rds_describe_db_clusters"]
        );
    }

    #[test]
    fn msg_calls_carry_their_literal_id_and_key() {
        let r = reach(&compiled(
            r#"
            fn a1(w) { if w { msg("A1", "ok", w) } else { msg("A1", "not_ok") } }
            fn computed(w) { msg("A1", w.key, w) }
            fn never() { msg("A9", "never") }
            fn run(p) { a1(p); computed(p); }
            "#,
        ));
        let literal: Vec<_> = r.msgs.iter().map(|m| m.literal.clone()).collect();
        assert_eq!(literal.len(), 3, "{literal:?}");
        assert!(literal.contains(&Some(("A1".into(), "ok".into()))));
        assert!(literal.contains(&Some(("A1".into(), "not_ok".into()))));
        assert!(literal.contains(&None));
        let computed = r.msgs.iter().find(|m| m.literal.is_none()).unwrap();
        assert_eq!(computed.position.line(), Some(3));
    }
}
