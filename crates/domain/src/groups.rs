//! Groups (docs/newapi-behaviour.md §9): which groups a user may pick for their API keys, at what
//! price multiplier, and which models those groups serve.
//!
//! Pure functions over [`GroupSettings`]; the settings themselves are loaded by an adapter.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The virtual group whose ratio is shown as "自动" (docs/newapi-behaviour.md §9.3, §9.4).
pub const AUTO_GROUP: &str = "auto";
/// How the compat surface renders [`GroupRatio::Auto`].
pub const AUTO_RATIO_LABEL: &str = "自动";
/// The description given to a user's own group when it is not otherwise usable
/// (docs/newapi-behaviour.md §9.2).
pub const OWN_GROUP_DESC: &str = "用户分组";
/// Longest group name, in characters.
pub const MAX_GROUP_NAME_CHARS: usize = 64;

const REMOVE_PREFIX: &str = "-:";
const ADD_PREFIX: &str = "+:";

/// The group options of docs/newapi-behaviour.md §9.1. `Default` is New API's defaults.
///
/// Missing fields deserialise to their defaults, so a partial document is accepted; call
/// [`GroupSettings::validate`] before using settings that came from outside.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct GroupSettings {
    /// `GroupRatio`: the price multiplier per group.
    pub ratios: BTreeMap<String, f64>,
    /// `GroupGroupRatio`: `[user group][used group]` overrides of `ratios`.
    pub group_group_ratio: BTreeMap<String, BTreeMap<String, f64>>,
    /// `UserUsableGroups`: groups every user may pick, name → description.
    pub usable: BTreeMap<String, String>,
    /// `group_special_usable_group`: per user group, `-:name` removes a usable group,
    /// `+:name` or a bare `name` adds one with the given description.
    pub special_usable: BTreeMap<String, BTreeMap<String, String>>,
    /// `AutoGroups`: the ordered candidates of the virtual `auto` group.
    pub auto_groups: Vec<String>,
    /// Group → the models it serves (New API's abilities table).
    pub models: BTreeMap<String, Vec<String>>,
}

impl Default for GroupSettings {
    fn default() -> Self {
        let ratios = ["default", "vip", "svip"]
            .into_iter()
            .map(|g| (g.to_owned(), 1.0))
            .collect();
        let group_group_ratio = BTreeMap::from([(
            "vip".to_owned(),
            BTreeMap::from([("edit_this".to_owned(), 0.9)]),
        )]);
        let usable = BTreeMap::from([
            ("default".to_owned(), "默认分组".to_owned()),
            ("vip".to_owned(), "vip分组".to_owned()),
        ]);
        let special_usable = BTreeMap::from([(
            "vip".to_owned(),
            BTreeMap::from([
                ("append_1".to_owned(), "vip_special_group_1".to_owned()),
                ("-:remove_1".to_owned(), "vip_removed_group_1".to_owned()),
            ]),
        )]);
        Self {
            ratios,
            group_group_ratio,
            usable,
            special_usable,
            auto_groups: vec!["default".to_owned()],
            models: BTreeMap::new(),
        }
    }
}

/// Why group settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupSettingsError {
    #[error("the ratio of group {group:?} must be a finite number >= 0")]
    InvalidRatio { group: String },
    #[error(
        "the ratio of group {group:?} for users of {user_group:?} must be a finite number >= 0"
    )]
    InvalidGroupGroupRatio { user_group: String, group: String },
    #[error("group names must be 1 to {max} characters", max = MAX_GROUP_NAME_CHARS)]
    InvalidGroupName,
    #[error("group {group:?} lists an empty model name")]
    EmptyModelName { group: String },
}

/// A ratio as `GET /api/user/groups` shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GroupRatio {
    Number(f64),
    /// The virtual `auto` group; rendered as [`AUTO_RATIO_LABEL`] by the compat surface.
    Auto,
}

/// One entry of `GET /api/user/groups`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    pub name: String,
    pub ratio: GroupRatio,
    pub desc: String,
}

impl GroupSettings {
    /// Checks that every ratio is finite and not negative, every group name (including the
    /// names behind `-:`/`+:`) is 1 to [`MAX_GROUP_NAME_CHARS`] characters, and no model name
    /// is empty.
    ///
    /// # Errors
    /// The first rule broken, as a [`GroupSettingsError`].
    pub fn validate(&self) -> Result<(), GroupSettingsError> {
        for (group, ratio) in &self.ratios {
            check_name(group)?;
            if !valid_ratio(*ratio) {
                return Err(GroupSettingsError::InvalidRatio {
                    group: group.clone(),
                });
            }
        }
        for (user_group, overrides) in &self.group_group_ratio {
            check_name(user_group)?;
            for (group, ratio) in overrides {
                check_name(group)?;
                if !valid_ratio(*ratio) {
                    return Err(GroupSettingsError::InvalidGroupGroupRatio {
                        user_group: user_group.clone(),
                        group: group.clone(),
                    });
                }
            }
        }
        for group in self.usable.keys() {
            check_name(group)?;
        }
        for (user_group, rules) in &self.special_usable {
            check_name(user_group)?;
            for key in rules.keys() {
                check_name(special_target(key).1)?;
            }
        }
        for group in &self.auto_groups {
            check_name(group)?;
        }
        for (group, models) in &self.models {
            check_name(group)?;
            if models.iter().any(String::is_empty) {
                return Err(GroupSettingsError::EmptyModelName {
                    group: group.clone(),
                });
            }
        }
        Ok(())
    }

    /// The groups a user of `user_group` may use, name → description (docs/newapi-behaviour.md
    /// §9.2): `usable`, adjusted by the user group's `special_usable` rules, plus the user's own
    /// group (described as [`OWN_GROUP_DESC`]) when it is not already there. An empty `user_group`
    /// (the public route) gets `usable` unchanged.
    ///
    /// New API applied the rules in Go map order, so a group both added and removed came out
    /// either way; here additions are applied first and removals last, so removal wins.
    pub fn usable_groups(&self, user_group: &str) -> BTreeMap<String, String> {
        let mut groups = self.usable.clone();
        if user_group.is_empty() {
            return groups;
        }
        if let Some(rules) = self.special_usable.get(user_group) {
            let (removals, additions): (Vec<_>, Vec<_>) =
                rules.iter().partition(|(key, _)| special_target(key).0);
            for (key, desc) in additions {
                groups.insert(special_target(key).1.to_owned(), desc.clone());
            }
            for (key, _) in removals {
                groups.remove(special_target(key).1);
            }
        }
        groups
            .entry(user_group.to_owned())
            .or_insert_with(|| OWN_GROUP_DESC.to_owned());
        groups
    }

    /// The ratio a user of `user_group` pays in `group`: the `group_group_ratio` override if
    /// any, else `ratios[group]`, else 1 (docs/newapi-behaviour.md §9.3).
    pub fn group_ratio(&self, user_group: &str, group: &str) -> f64 {
        self.group_group_ratio
            .get(user_group)
            .and_then(|overrides| overrides.get(group))
            .or_else(|| self.ratios.get(group))
            .copied()
            .unwrap_or(1.0)
    }

    /// `GET /api/user/groups` (docs/newapi-behaviour.md §9.3), in name order: every usable group
    /// that has a ratio, with the user's ratio; usable groups without a ratio (the user's own group
    /// included) are not listed. If `auto` is usable it is listed with [`GroupRatio::Auto`] and the
    /// description `usable["auto"]`, or `"auto"`.
    pub fn group_view(&self, user_group: &str) -> Vec<GroupView> {
        let usable = self.usable_groups(user_group);
        let mut view: Vec<GroupView> = usable
            .iter()
            .filter(|(name, _)| name.as_str() != AUTO_GROUP && self.ratios.contains_key(*name))
            .map(|(name, desc)| GroupView {
                name: name.clone(),
                ratio: GroupRatio::Number(self.group_ratio(user_group, name)),
                desc: desc.clone(),
            })
            .collect();
        if usable.contains_key(AUTO_GROUP) {
            view.push(GroupView {
                name: AUTO_GROUP.to_owned(),
                ratio: GroupRatio::Auto,
                desc: self
                    .usable
                    .get(AUTO_GROUP)
                    .cloned()
                    .unwrap_or_else(|| AUTO_GROUP.to_owned()),
            });
            view.sort_by(|a, b| a.name.cmp(&b.name));
        }
        view
    }

    /// `GET /api/user/models` (docs/newapi-behaviour.md §5.4): the models of every group the user
    /// may use, sorted and without duplicates (New API's order was unstable).
    pub fn models_for(&self, user_group: &str) -> Vec<String> {
        let models: BTreeSet<&String> = self
            .usable_groups(user_group)
            .keys()
            .filter_map(|group| self.models.get(group))
            .flatten()
            .collect();
        models.into_iter().cloned().collect()
    }
}

fn valid_ratio(ratio: f64) -> bool {
    ratio.is_finite() && ratio >= 0.0
}

fn check_name(name: &str) -> Result<(), GroupSettingsError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_GROUP_NAME_CHARS {
        return Err(GroupSettingsError::InvalidGroupName);
    }
    Ok(())
}

/// Splits a `special_usable` key into (is a removal, target group).
fn special_target(key: &str) -> (bool, &str) {
    if let Some(name) = key.strip_prefix(REMOVE_PREFIX) {
        (true, name)
    } else if let Some(name) = key.strip_prefix(ADD_PREFIX) {
        (false, name)
    } else {
        (false, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map<const N: usize>(entries: [(&str, &str); N]) -> BTreeMap<String, String> {
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn settings_with_special(user_group: &str, rules: &[(&str, &str)]) -> GroupSettings {
        GroupSettings {
            special_usable: BTreeMap::from([(
                user_group.to_owned(),
                rules
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )]),
            ..GroupSettings::default()
        }
    }

    #[test]
    fn defaults_match_new_api() {
        let s = GroupSettings::default();
        assert_eq!(s.ratios.len(), 3);
        assert!(s.ratios.values().all(|r| *r == 1.0));
        assert_eq!(s.group_group_ratio["vip"]["edit_this"], 0.9);
        assert_eq!(s.usable, map([("default", "默认分组"), ("vip", "vip分组")]));
        assert_eq!(
            s.special_usable["vip"],
            map([
                ("append_1", "vip_special_group_1"),
                ("-:remove_1", "vip_removed_group_1")
            ])
        );
        assert_eq!(s.auto_groups, vec!["default".to_owned()]);
        assert!(s.models.is_empty());
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn a_partial_document_deserialises_with_defaults_for_the_rest() {
        let s: GroupSettings = serde_json::from_str(r#"{"ratios":{"default":2.5}}"#).unwrap();
        assert_eq!(s.ratios, BTreeMap::from([("default".to_owned(), 2.5)]));
        assert_eq!(s.usable, GroupSettings::default().usable);
    }

    #[test]
    fn negative_nan_or_infinite_ratios_are_refused() {
        for bad in [-0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut s = GroupSettings::default();
            s.ratios.insert("vip".to_owned(), bad);
            assert_eq!(
                s.validate(),
                Err(GroupSettingsError::InvalidRatio {
                    group: "vip".to_owned()
                })
            );
            let mut s = GroupSettings::default();
            s.group_group_ratio
                .insert("vip".to_owned(), BTreeMap::from([("svip".to_owned(), bad)]));
            assert!(matches!(
                s.validate(),
                Err(GroupSettingsError::InvalidGroupGroupRatio { .. })
            ));
        }
        let mut s = GroupSettings::default();
        s.ratios.insert("free".to_owned(), 0.0);
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn empty_or_overlong_group_names_are_refused_wherever_they_appear() {
        let long = "g".repeat(MAX_GROUP_NAME_CHARS + 1);
        let mut cases: Vec<GroupSettings> = Vec::new();
        for bad in ["", long.as_str()] {
            let mut s = GroupSettings::default();
            s.ratios.insert(bad.to_owned(), 1.0);
            cases.push(s);
            let mut s = GroupSettings::default();
            s.usable.insert(bad.to_owned(), "x".to_owned());
            cases.push(s);
            let mut s = GroupSettings::default();
            s.auto_groups.push(bad.to_owned());
            cases.push(s);
            let mut s = GroupSettings::default();
            s.models.insert(bad.to_owned(), vec!["gpt-4o".to_owned()]);
            cases.push(s);
            cases.push(settings_with_special("vip", &[(&format!("-:{bad}"), "x")]));
            cases.push(settings_with_special(bad, &[("a", "x")]));
        }
        for s in cases {
            assert_eq!(s.validate(), Err(GroupSettingsError::InvalidGroupName));
        }
        let mut s = GroupSettings::default();
        s.usable.insert(
            "名".repeat(MAX_GROUP_NAME_CHARS),
            "counted in characters".to_owned(),
        );
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn an_empty_model_name_is_refused() {
        let mut s = GroupSettings::default();
        s.models
            .insert("vip".to_owned(), vec!["gpt-4o".to_owned(), String::new()]);
        assert_eq!(
            s.validate(),
            Err(GroupSettingsError::EmptyModelName {
                group: "vip".to_owned()
            })
        );
    }

    #[test]
    fn the_public_route_gets_the_usable_groups_unchanged() {
        let s = GroupSettings::default();
        assert_eq!(s.usable_groups(""), s.usable);
    }

    #[test]
    fn a_user_in_a_usable_group_gets_the_usable_groups() {
        let s = GroupSettings::default();
        assert_eq!(s.usable_groups("default"), s.usable);
    }

    #[test]
    fn a_users_own_group_is_added_as_user_group() {
        let s = GroupSettings::default();
        assert_eq!(
            s.usable_groups("svip"),
            map([
                ("default", "默认分组"),
                ("svip", "用户分组"),
                ("vip", "vip分组")
            ])
        );
    }

    #[test]
    fn minus_prefix_removes_and_plus_prefix_or_bare_name_adds() {
        let s = settings_with_special(
            "vip",
            &[
                ("-:default", "ignored"),
                ("+:svip", "super"),
                ("gold", "golden"),
            ],
        );
        assert_eq!(
            s.usable_groups("vip"),
            map([("gold", "golden"), ("svip", "super"), ("vip", "vip分组")])
        );
        // Rules belong to their user group only.
        assert_eq!(s.usable_groups("default"), s.usable);
    }

    #[test]
    fn special_rules_can_re_describe_a_usable_group() {
        let s = settings_with_special("vip", &[("default", "cheap lane")]);
        assert_eq!(s.usable_groups("vip")["default"], "cheap lane");
    }

    #[test]
    fn a_user_cannot_remove_their_own_group() {
        let s = settings_with_special("vip", &[("-:vip", "")]);
        assert_eq!(s.usable_groups("vip")["vip"], OWN_GROUP_DESC);
    }

    #[test]
    fn removal_wins_over_addition_of_the_same_group() {
        let s = settings_with_special("vip", &[("+:svip", "super"), ("-:svip", "")]);
        assert!(!s.usable_groups("vip").contains_key("svip"));
        let s = settings_with_special("vip", &[("svip", "super"), ("-:svip", "")]);
        assert!(!s.usable_groups("vip").contains_key("svip"));
    }

    #[test]
    fn the_default_special_rules_add_append_1_for_vip_users() {
        let s = GroupSettings::default();
        assert_eq!(
            s.usable_groups("vip"),
            map([
                ("append_1", "vip_special_group_1"),
                ("default", "默认分组"),
                ("vip", "vip分组")
            ])
        );
    }

    #[test]
    fn group_view_lists_usable_groups_with_ratios_in_name_order() {
        let mut s = GroupSettings::default();
        s.ratios.insert("default".to_owned(), 1.5);
        let view = s.group_view("default");
        assert_eq!(
            view,
            vec![
                GroupView {
                    name: "default".to_owned(),
                    ratio: GroupRatio::Number(1.5),
                    desc: "默认分组".to_owned()
                },
                GroupView {
                    name: "vip".to_owned(),
                    ratio: GroupRatio::Number(1.0),
                    desc: "vip分组".to_owned()
                },
            ]
        );
    }

    #[test]
    fn usable_groups_without_a_ratio_are_not_listed() {
        let mut s = GroupSettings::default();
        s.usable.insert("nopricing".to_owned(), "x".to_owned());
        let names: Vec<String> = s.group_view("team").into_iter().map(|g| g.name).collect();
        // Neither "nopricing" nor the user's own, unpriced group "team".
        assert_eq!(names, vec!["default".to_owned(), "vip".to_owned()]);
    }

    #[test]
    fn a_users_own_group_with_a_ratio_is_listed_as_user_group() {
        let s = GroupSettings::default();
        let svip = s
            .group_view("svip")
            .into_iter()
            .find(|g| g.name == "svip")
            .unwrap();
        assert_eq!(svip.desc, OWN_GROUP_DESC);
        assert_eq!(svip.ratio, GroupRatio::Number(1.0));
    }

    #[test]
    fn group_group_ratio_overrides_the_ratio_for_that_user_group_only() {
        let mut s = GroupSettings::default();
        s.group_group_ratio.insert(
            "vip".to_owned(),
            BTreeMap::from([("default".to_owned(), 0.5)]),
        );
        let ratio_of = |user_group: &str| {
            s.group_view(user_group)
                .into_iter()
                .find(|g| g.name == "default")
                .map(|g| g.ratio)
        };
        assert_eq!(ratio_of("vip"), Some(GroupRatio::Number(0.5)));
        assert_eq!(ratio_of("default"), Some(GroupRatio::Number(1.0)));
        assert_eq!(ratio_of(""), Some(GroupRatio::Number(1.0)));
    }

    #[test]
    fn group_ratio_falls_back_to_one_for_unknown_groups() {
        let s = GroupSettings::default();
        assert_eq!(s.group_ratio("default", "nowhere"), 1.0);
    }

    #[test]
    fn usable_auto_is_listed_as_auto_with_its_usable_description() {
        let mut s = GroupSettings::default();
        s.usable.insert("auto".to_owned(), "智能选择".to_owned());
        // Even with a numeric ratio configured, auto is shown as Auto.
        s.ratios.insert("auto".to_owned(), 3.0);
        let view = s.group_view("");
        let names: Vec<&str> = view.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, vec!["auto", "default", "vip"]);
        assert_eq!(view[0].ratio, GroupRatio::Auto);
        assert_eq!(view[0].desc, "智能选择");
    }

    #[test]
    fn auto_added_by_a_special_rule_is_described_as_auto() {
        let s = settings_with_special("vip", &[("+:auto", "special description")]);
        let auto = s
            .group_view("vip")
            .into_iter()
            .find(|g| g.name == AUTO_GROUP)
            .unwrap();
        assert_eq!(auto.ratio, GroupRatio::Auto);
        assert_eq!(auto.desc, "auto");
        assert!(s.group_view("default").iter().all(|g| g.name != AUTO_GROUP));
    }

    #[test]
    fn models_for_is_the_sorted_union_over_usable_groups() {
        let s = GroupSettings {
            models: BTreeMap::from([
                (
                    "default".to_owned(),
                    vec!["gpt-4o-mini".to_owned(), "claude-3".to_owned()],
                ),
                (
                    "vip".to_owned(),
                    vec!["gpt-4o".to_owned(), "gpt-4o-mini".to_owned()],
                ),
                ("secret".to_owned(), vec!["o1-pro".to_owned()]),
                ("team".to_owned(), vec!["team-model".to_owned()]),
            ]),
            ..GroupSettings::default()
        };
        assert_eq!(
            s.models_for("team"),
            vec!["claude-3", "gpt-4o", "gpt-4o-mini", "team-model"]
        );
        assert_eq!(s.models_for(""), vec!["claude-3", "gpt-4o", "gpt-4o-mini"]);
    }

    #[test]
    fn models_for_honours_removed_groups() {
        let mut s = settings_with_special("vip", &[("-:default", "")]);
        s.models = BTreeMap::from([
            ("default".to_owned(), vec!["cheap".to_owned()]),
            ("vip".to_owned(), vec!["fast".to_owned()]),
        ]);
        assert_eq!(s.models_for("vip"), vec!["fast"]);
        assert!(GroupSettings::default().models_for("default").is_empty());
    }
}
