//! Schema URNs and the discovery documents (RFC 7643 §5–§7, RFC 7644 §4): what keyfleet's
//! service provider supports, stated once.

use serde_json::{Value, json};

use crate::error::ScimError;

/// The core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// A list response.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// A PATCH request.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// An error.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The ServiceProviderConfig schema.
pub const SERVICE_PROVIDER_CONFIG: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// The ResourceType schema.
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// The Schema schema.
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Most resources one list page returns (`count` is capped to it).
pub const MAX_PAGE: u32 = 200;

/// The error document of RFC 7644 §3.12.
pub fn error_document(e: &ScimError) -> Value {
    let mut doc = json!({"schemas": [ERROR], "status": e.status.to_string(), "detail": e.detail});
    if let Some(t) = e.scim_type {
        doc["scimType"] = json!(t.as_str());
    }
    doc
}

/// A ListResponse page.
pub fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// What the service provider supports (RFC 7643 §5). `base` is the service's base URL.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": "https://github.com/keyfleet/keyfleet/blob/main/docs/scim.md",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "An access token from POST /oauth2/token (client credentials) with the scope scim",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

/// The resource types (RFC 7643 §6).
pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE], "id": "User", "name": "User", "endpoint": "/Users",
            "description": "A person keys are issued to", "schema": USER,
            "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
        }),
        json!({
            "schemas": [RESOURCE_TYPE], "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "A group of users", "schema": GROUP, "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
        }),
    ]
}

struct Attr {
    name: &'static str,
    kind: &'static str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &'static str,
    uniqueness: &'static str,
    sub: Vec<Value>,
}

fn attr(name: &'static str, kind: &'static str) -> Attr {
    Attr {
        name,
        kind,
        multi: false,
        required: false,
        case_exact: false,
        mutability: "readWrite",
        uniqueness: "none",
        sub: Vec::new(),
    }
}

impl Attr {
    fn multi(mut self) -> Self {
        self.multi = true;
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn mutability(mut self, m: &'static str) -> Self {
        self.mutability = m;
        self
    }
    fn unique(mut self, u: &'static str) -> Self {
        self.uniqueness = u;
        self
    }
    fn sub(mut self, sub: Vec<Value>) -> Self {
        self.sub = sub;
        self
    }
    fn json(self) -> Value {
        let mut v = json!({
            "name": self.name, "type": self.kind, "multiValued": self.multi, "description": self.name,
            "required": self.required, "caseExact": self.case_exact, "mutability": self.mutability,
            "returned": "default", "uniqueness": self.uniqueness,
        });
        if self.kind == "reference" {
            v["referenceTypes"] = json!(["User", "Group"]);
        }
        if !self.sub.is_empty() {
            v["subAttributes"] = Value::Array(self.sub);
        }
        v
    }
}

fn multi_sub(value_kind: &'static str, types: bool) -> Vec<Value> {
    let mut v = vec![attr("value", value_kind).json()];
    if types {
        v.push(attr("type", "string").json());
        v.push(attr("primary", "boolean").json());
    }
    v
}

fn schema_doc(id: &str, name: &str, attributes: Vec<Value>, base: &str) -> Value {
    json!({
        "schemas": [SCHEMA], "id": id, "name": name, "description": name, "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    })
}

/// The schemas keyfleet supports (RFC 7643 §7), with the attributes it keeps.
pub fn schemas(base: &str) -> Vec<Value> {
    let address = vec![
        attr("formatted", "string").json(),
        attr("streetAddress", "string").json(),
        attr("locality", "string").json(),
        attr("region", "string").json(),
        attr("postalCode", "string").json(),
        attr("country", "string").json(),
        attr("type", "string").json(),
        attr("primary", "boolean").json(),
    ];
    let user = vec![
        attr("userName", "string").required().unique("server").json(),
        attr("name", "complex")
            .sub(vec![
                attr("formatted", "string").json(),
                attr("familyName", "string").json(),
                attr("givenName", "string").json(),
            ])
            .json(),
        attr("displayName", "string").json(),
        attr("emails", "complex").multi().sub(multi_sub("string", true)).json(),
        attr("active", "boolean").json(),
        attr("addresses", "complex").multi().sub(address).json(),
        attr("groups", "complex")
            .multi()
            .mutability("readOnly")
            .sub(vec![
                attr("value", "string").mutability("readOnly").json(),
                attr("display", "string").mutability("readOnly").json(),
                attr("$ref", "reference").mutability("readOnly").json(),
            ])
            .json(),
    ];
    let enterprise = vec![
        attr("manager", "complex")
            .sub(vec![attr("value", "string").json(), attr("$ref", "reference").json()])
            .json(),
    ];
    let group = vec![
        attr("displayName", "string").required().unique("server").json(),
        attr("members", "complex")
            .multi()
            .sub(vec![
                attr("value", "string").exact().mutability("immutable").json(),
                attr("$ref", "reference").mutability("immutable").json(),
            ])
            .json(),
    ];
    vec![
        schema_doc(USER, "User", user, base),
        schema_doc(GROUP, "Group", group, base),
        schema_doc(ENTERPRISE_USER, "EnterpriseUser", enterprise, base),
    ]
}
