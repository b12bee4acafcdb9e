use super::*;

fn person(role: Role, kind: SessionKind) -> Principal {
    Principal::Person {
        user: UserId::new_random(&mut rand_core::OsRng),
        role,
        session: SessionId::new_random(&mut rand_core::OsRng),
        kind,
    }
}

#[test]
fn the_permission_table() {
    use Permission::*;
    let all = [
        ReadUsers,
        WriteUsers,
        ReadGroups,
        ManageGroups,
        ManageClients,
        ReadAudit,
        ReadPolicies,
        ManagePolicies,
        ProvisionKeys,
    ];
    let admin = person(Role::Admin, SessionKind::Full);
    let helpdesk = person(Role::Helpdesk, SessionKind::Full);
    let worker = person(Role::Worker, SessionKind::Full);
    let admin_tap = person(Role::Admin, SessionKind::Tap);
    for p in all {
        assert!(Principal::System.may(p));
        assert!(admin.may(p));
        assert!(!worker.may(p));
        assert!(!admin_tap.may(p), "a TAP session may do nothing of {p:?}");
    }
    // The console's rule, now the API's too: helpdesk staff do not change groups or clients.
    assert!(helpdesk.may(ReadUsers) && helpdesk.may(WriteUsers) && helpdesk.may(ReadGroups) && helpdesk.may(ReadAudit));
    assert!(!helpdesk.may(ManageGroups));
    assert!(!helpdesk.may(DeleteUsers));
    assert!(!helpdesk.may(ManageClients));
    // Policies: helpdesk staff read them, only administrators change them.
    assert!(helpdesk.may(ReadPolicies) && !helpdesk.may(ManagePolicies));
    let client = Principal::Client {
        client_id: "c".into(),
        scopes: vec![Scope::UsersWrite],
    };
    assert!(client.may(WriteUsers) && client.may(ManageGroups) && client.may(DeleteUsers));
    assert!(!client.may(ReadUsers) && !client.may(ManageClients) && !client.may(ReadAudit));
    assert!(!client.may(ReadPolicies) && !client.may(ManagePolicies));
    // On-behalf registration: administrators and `provisioning` clients; never helpdesk staff
    // (the console offers them no such action), nor `users:write` alone.
    assert!(!helpdesk.may(ProvisionKeys));
    assert!(!client.may(ProvisionKeys));
    let provisioner = Principal::Client {
        client_id: "p".into(),
        scopes: vec![Scope::Provisioning],
    };
    assert!(provisioner.may(ProvisionKeys) && !provisioner.may(WriteUsers) && !provisioner.may(ReadUsers));
}

#[test]
fn authorities() {
    assert_eq!(Principal::System.authority(), Authority::Admin);
    assert_eq!(
        person(Role::Helpdesk, SessionKind::Full).authority(),
        Authority::Helpdesk
    );
    let client = Principal::Client {
        client_id: "c".into(),
        scopes: vec![],
    };
    assert_eq!(client.authority(), Authority::Client);
}
