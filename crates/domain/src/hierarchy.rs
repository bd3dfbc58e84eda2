//! The role hierarchy of admin operations (docs/newapi-behaviour.md §7, docs/security.md "The role
//! hierarchy"): an actor may read or change a target only if `actor.role > target.role`, may never
//! grant a role >= its own, only root promotes, and root itself cannot be changed, disabled,
//! demoted or deleted through admin routes (no role is above root). An actor may always read
//! itself; root may also update its own non-authority fields (its role and status stay
//! untouchable: `services::AdminService::update` refuses changing them).

use crate::user::{Role, User, UserStatus};

/// An admin operation on a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOp {
    View,
    Update,
    Disable,
    Enable,
    /// Soft delete (`manage` `delete`).
    Delete,
    /// `DELETE /api/user/:id`.
    HardDelete,
    Promote,
    Demote,
}

/// Why the hierarchy refused an operation. Nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HierarchyError {
    #[error("admin routes need an admin")]
    NotAdmin,
    #[error("no permission over a user of the same or a higher role")]
    TargetNotBelow,
    #[error("cannot grant a role at or above one's own")]
    RoleNotBelow,
    #[error("only root may promote")]
    OnlyRootPromotes,
    #[error("the user is already an admin")]
    AlreadyAdmin,
    #[error("the user is already a common user")]
    AlreadyCommon,
    #[error("the root user cannot be disabled, deleted or demoted")]
    RootProtected,
}

/// Whether `actor` may perform `op` on `target`.
pub fn check(actor: &User, target: &User, op: AdminOp) -> Result<(), HierarchyError> {
    if !actor.role.is_admin() {
        return Err(HierarchyError::NotAdmin);
    }
    if actor.id == target.id
        && (op == AdminOp::View || (op == AdminOp::Update && actor.role == Role::Root))
    {
        return Ok(());
    }
    if target.role == Role::Root
        && matches!(
            op,
            AdminOp::Disable | AdminOp::Delete | AdminOp::HardDelete | AdminOp::Demote
        )
    {
        return Err(HierarchyError::RootProtected);
    }
    if actor.role <= target.role {
        return Err(HierarchyError::TargetNotBelow);
    }
    match op {
        AdminOp::Promote => {
            if actor.role != Role::Root {
                return Err(HierarchyError::OnlyRootPromotes);
            }
            if target.role >= Role::Admin {
                return Err(HierarchyError::AlreadyAdmin);
            }
        }
        AdminOp::Demote if target.role == Role::User => return Err(HierarchyError::AlreadyCommon),
        _ => {}
    }
    Ok(())
}

/// Whether `actor` may give a user `role` (on creation): strictly below its own.
pub fn check_grant(actor: &User, role: Role) -> Result<(), HierarchyError> {
    if !actor.role.is_admin() {
        return Err(HierarchyError::NotAdmin);
    }
    if role >= actor.role {
        return Err(HierarchyError::RoleNotBelow);
    }
    Ok(())
}

/// The role and status a target has after `op`.
pub fn outcome(target: &User, op: AdminOp) -> (Role, UserStatus) {
    match op {
        AdminOp::Disable => (target.role, UserStatus::Disabled),
        AdminOp::Enable => (target.role, UserStatus::Enabled),
        AdminOp::Promote => (Role::Admin, target.status),
        AdminOp::Demote => (Role::User, target.status),
        _ => (target.role, target.status),
    }
}

/// Whether an operation must end the target's sessions and access token at once.
pub fn revokes_sessions(op: AdminOp) -> bool {
    matches!(
        op,
        AdminOp::Disable | AdminOp::Delete | AdminOp::HardDelete | AdminOp::Demote
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::accounts_test_user as user;

    const OPS: [AdminOp; 8] = [
        AdminOp::View,
        AdminOp::Update,
        AdminOp::Disable,
        AdminOp::Enable,
        AdminOp::Delete,
        AdminOp::HardDelete,
        AdminOp::Promote,
        AdminOp::Demote,
    ];

    /// The full matrix: actor role x target role x operation, with the expected verdict.
    #[test]
    fn the_matrix_allows_exactly_the_expected_cells() {
        let roles = [Role::User, Role::Admin, Role::Root];
        for actor_role in roles {
            for target_role in roles {
                for op in OPS {
                    let actor = user(1, actor_role);
                    let target = user(2, target_role);
                    let allowed = check(&actor, &target, op).is_ok();
                    let expected = actor_role.is_admin()
                        && actor_role > target_role
                        && match op {
                            AdminOp::Promote => {
                                actor_role == Role::Root && target_role == Role::User
                            }
                            AdminOp::Demote => target_role == Role::Admin,
                            _ => true,
                        };
                    assert_eq!(allowed, expected, "{actor_role:?} {op:?} {target_role:?}");
                }
            }
        }
    }

    #[test]
    fn an_actor_may_view_itself_and_only_root_may_update_itself() {
        for role in [Role::Admin, Role::Root] {
            let me = user(1, role);
            for op in OPS {
                let allowed = op == AdminOp::View || (op == AdminOp::Update && role == Role::Root);
                assert_eq!(check(&me, &me, op).is_ok(), allowed, "{role:?} {op:?}");
            }
        }
        // Another root is still out of reach.
        assert_eq!(
            check(&user(1, Role::Root), &user(2, Role::Root), AdminOp::Update),
            Err(HierarchyError::TargetNotBelow)
        );
    }

    #[test]
    fn root_is_protected_even_from_root() {
        let root = user(1, Role::Root);
        let other_root = user(2, Role::Root);
        for op in [
            AdminOp::Disable,
            AdminOp::Delete,
            AdminOp::HardDelete,
            AdminOp::Demote,
        ] {
            assert_eq!(
                check(&root, &other_root, op),
                Err(HierarchyError::RootProtected)
            );
        }
    }

    #[test]
    fn grants_must_stay_below_the_actor() {
        assert!(check_grant(&user(1, Role::Admin), Role::User).is_ok());
        assert_eq!(
            check_grant(&user(1, Role::Admin), Role::Admin),
            Err(HierarchyError::RoleNotBelow)
        );
        assert!(check_grant(&user(1, Role::Root), Role::Admin).is_ok());
        assert_eq!(
            check_grant(&user(1, Role::Root), Role::Root),
            Err(HierarchyError::RoleNotBelow)
        );
        assert_eq!(
            check_grant(&user(1, Role::User), Role::User),
            Err(HierarchyError::NotAdmin)
        );
    }

    #[test]
    fn revoking_operations_and_outcomes() {
        let u = user(2, Role::Admin);
        assert_eq!(
            outcome(&u, AdminOp::Demote),
            (Role::User, UserStatus::Enabled)
        );
        assert_eq!(
            outcome(&u, AdminOp::Disable),
            (Role::Admin, UserStatus::Disabled)
        );
        assert!(revokes_sessions(AdminOp::Disable) && revokes_sessions(AdminOp::Demote));
        assert!(!revokes_sessions(AdminOp::Enable) && !revokes_sessions(AdminOp::Promote));
    }
}
