//! S3 read-only operations (Step 2's media bucket) and the mapping of S3 types to the
//! AWS CLI output shape (`aws s3api … --output json`).

use aws_sdk_s3::types::{Bucket, Grant, Object, Owner as S3Owner, PublicAccessBlockConfiguration};
use aws_sdk_s3::Client;
use serde_json::{json, Value};

use super::error::from_sdk;
use super::request::Req;
use super::{unsupported, Obj, Service};
use crate::caps::capability::{Operation, Scope};
use crate::caps::error::CapError;

/// Most keys one ListObjectsV2 call returns (S3's own page size); a step asks for a
/// prefix, never for the whole bucket.
const MAX_KEYS: i32 = 1000;

/// S3's read-only operations, in WIT order, each with its untrusted-step scope.
pub(crate) const OPERATIONS: &[Operation] = &[
    Operation {
        name: "s3_list_buckets",
        iam: Some("s3:ListAllMyBuckets"),
        about: "S3 ListBuckets → {\"Buckets\":[…], \"Owner\"}",
        scope: Scope::Filter(|a, o| o.keep(a, "Buckets", |b| o.owns(b["Name"].as_str().unwrap_or("")))),
    },
    Operation {
        name: "s3_get_bucket_location",
        iam: Some("s3:GetBucketLocation"),
        about: "S3 GetBucketLocation (Bucket) → {\"LocationConstraint\"}",
        scope: Scope::OwnNames(&["Bucket"]),
    },
    Operation {
        name: "s3_get_public_access_block",
        iam: Some("s3:GetBucketPublicAccessBlock"),
        about: "S3 GetPublicAccessBlock (Bucket) → {\"PublicAccessBlockConfiguration\"}",
        scope: Scope::OwnNames(&["Bucket"]),
    },
    Operation {
        name: "s3_get_bucket_acl",
        iam: Some("s3:GetBucketAcl"),
        about: "S3 GetBucketAcl (Bucket) → {\"Owner\", \"Grants\":[…]}",
        scope: Scope::OwnNames(&["Bucket"]),
    },
    Operation {
        name: "s3_list_objects_v2",
        iam: Some("s3:ListBucket"),
        about: "S3 ListObjectsV2 (Bucket, Prefix, MaxKeys ≤ 1000) → {\"Contents\":[…], \"KeyCount\", \"IsTruncated\"}",
        scope: Scope::OwnNames(&["Bucket"]),
    },
];

pub(crate) async fn call(
    svc: &Service<Client>,
    op: &str,
    request: &Value,
) -> Result<Value, CapError> {
    let c = &svc.client;
    match op {
        "s3_list_buckets" => {
            let r = Req::new(op, request, &["Prefix", "BucketRegion"])?;
            let pages = all_pages!(
                c.list_buckets()
                    .set_prefix(r.str("Prefix")?)
                    .set_bucket_region(r.str("BucketRegion")?),
                op,
                svc
            );
            let owner = pages.iter().find_map(|p| p.owner.as_ref());
            Ok(Obj::new()
                .list(
                    "Buckets",
                    Some(
                        &pages
                            .iter()
                            .flat_map(|p| p.buckets().iter().cloned())
                            .collect(),
                    ),
                    bucket,
                )
                .o("Owner", owner, owner_json)
                .done())
        }
        "s3_get_bucket_location" => {
            let r = Req::new(op, request, &["Bucket"])?;
            let out = send_one!(
                c.get_bucket_location().bucket(r.required_str("Bucket")?),
                op,
                svc
            );
            // The AWS CLI prints null for us-east-1, where S3 returns no constraint.
            Ok(json!({
                "LocationConstraint": out.location_constraint().map(|l| l.as_str().to_string())
            }))
        }
        "s3_get_public_access_block" => {
            let r = Req::new(op, request, &["Bucket"])?;
            let out = send_one!(
                c.get_public_access_block()
                    .bucket(r.required_str("Bucket")?),
                op,
                svc
            );
            Ok(Obj::new()
                .o(
                    "PublicAccessBlockConfiguration",
                    out.public_access_block_configuration(),
                    public_access_block,
                )
                .done())
        }
        "s3_get_bucket_acl" => {
            let r = Req::new(op, request, &["Bucket"])?;
            let out = send_one!(
                c.get_bucket_acl().bucket(r.required_str("Bucket")?),
                op,
                svc
            );
            Ok(Obj::new()
                .o("Owner", out.owner(), owner_json)
                .list("Grants", out.grants.as_ref(), grant)
                .done())
        }
        "s3_list_objects_v2" => {
            let r = Req::new(op, request, &["Bucket", "Prefix", "MaxKeys", "StartAfter"])?;
            let max_keys = r.int("MaxKeys")?.unwrap_or(MAX_KEYS);
            if !(1..=MAX_KEYS).contains(&max_keys) {
                return Err(CapError::new(
                    super::CAPABILITY,
                    op,
                    crate::caps::error::ErrorKind::InvalidRequest,
                    crate::text::request::MaxKeys {
                        max: MAX_KEYS,
                        got: max_keys,
                    },
                ));
            }
            // One page only: a step asks about a prefix, not the whole bucket.
            let out = send_one!(
                c.list_objects_v2()
                    .bucket(r.required_str("Bucket")?)
                    .set_prefix(r.str("Prefix")?)
                    .set_start_after(r.str("StartAfter")?)
                    .max_keys(max_keys),
                op,
                svc
            );
            Ok(Obj::new()
                .n("IsTruncated", out.is_truncated)
                .list("Contents", Some(&out.contents().to_vec()), object)
                .s("Name", out.name.as_ref())
                .s("Prefix", out.prefix.as_ref())
                .n("MaxKeys", out.max_keys)
                .n("KeyCount", out.key_count)
                .done())
        }
        _ => Err(unsupported(op)),
    }
}

pub fn bucket(b: &Bucket) -> Value {
    Obj::new()
        .s("Name", b.name.as_ref())
        .t("CreationDate", b.creation_date.as_ref())
        .s("BucketRegion", b.bucket_region.as_ref())
        .done()
}

pub fn owner_json(o: &S3Owner) -> Value {
    Obj::new()
        .s("DisplayName", o.display_name.as_ref())
        .s("ID", o.id.as_ref())
        .done()
}

pub fn public_access_block(p: &PublicAccessBlockConfiguration) -> Value {
    Obj::new()
        .n("BlockPublicAcls", p.block_public_acls)
        .n("IgnorePublicAcls", p.ignore_public_acls)
        .n("BlockPublicPolicy", p.block_public_policy)
        .n("RestrictPublicBuckets", p.restrict_public_buckets)
        .done()
}

pub fn grant(g: &Grant) -> Value {
    Obj::new()
        .o("Grantee", g.grantee.as_ref(), |e| {
            Obj::new()
                .s("DisplayName", e.display_name.as_ref())
                .s("EmailAddress", e.email_address.as_ref())
                .s("ID", e.id.as_ref())
                .s("Type", Some(e.r#type.as_str()))
                .s("URI", e.uri.as_ref())
                .done()
        })
        .s("Permission", g.permission.as_ref())
        .done()
}

pub fn object(o: &Object) -> Value {
    Obj::new()
        .s("Key", o.key.as_ref())
        .t("LastModified", o.last_modified.as_ref())
        .s("ETag", o.e_tag.as_ref())
        .n("Size", o.size)
        .s("StorageClass", o.storage_class.as_ref())
        .done()
}
