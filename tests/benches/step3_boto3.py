#!/usr/bin/env python3
"""The peer of labrun's class benchmark: Step 3's eleven AWS outcomes (A1 A2 A3 A7 B1
B2 C1 C2 C3 C4 E1) checked the way a careful instructor's boto3 script does, one
trainee after another and one call after another, each call asking AWS for that
trainee's resources (filters and identifiers, as the API takes them).

    step3_boto3.py user01 user02 ...      (AWS_ENDPOINT_URL, credentials and region
                                           from the environment, as for labrun)

Prints one JSON line: {"trainees": N, "calls": C, "pass": P, "fail": F, "seconds": S}.
"""

import json
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

CALLS = 0
CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def counted(client):
    def count(**_):
        global CALLS
        CALLS += 1

    client.meta.events.register("before-send", count)
    return client


ec2 = counted(boto3.client("ec2", config=CONFIG))
rds = counted(boto3.client("rds", config=CONFIG))
elb = counted(boto3.client("elbv2", config=CONFIG))


def by_name(name):
    return [{"Name": "tag:Name", "Values": [name]}]


def first(items):
    return items[0] if items else None


def one_cluster(name):
    try:
        return first(rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"])
    except ClientError:
        return None


def one_instance(name):
    try:
        return first(rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"])
    except ClientError:
        return None


def instances(name):
    out = []
    for r in ec2.describe_instances(Filters=by_name(name))["Reservations"]:
        out += [i for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    return out


def sg(name, vpc_id):
    filters = [{"Name": "group-name", "Values": [name]}]
    if vpc_id:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    return first(ec2.describe_security_groups(Filters=filters)["SecurityGroups"])


def allowed(group, port):
    cidrs, groups = [], []
    for p in group.get("IpPermissions", []):
        if p.get("IpProtocol") == "-1" or (p.get("FromPort", 0) <= port <= p.get("ToPort", -1)):
            cidrs += [r["CidrIp"] for r in p.get("IpRanges", [])]
            groups += [g["GroupId"] for g in p.get("UserIdGroupPairs", [])]
    return cidrs, groups


def check(user):
    w = {
        "cluster": f"wp-{user}-cluster", "reader": f"wp-{user}-slave", "vpc": f"vpc-{user}",
        "web1": f"webserver#1-{user}", "web2": f"webserver#2-{user}", "web_sg": f"web-{user}",
        "alb_sg": f"alb-{user}", "key": f"1day-{user}", "ami": f"wordpress {user}",
        "alb": f"elb-{user}", "tg": f"tg-elb-{user}",
    }
    st = {}
    c = one_cluster(w["cluster"])
    st["A1"] = bool(c) and w["reader"] in [m["DBInstanceIdentifier"] for m in c["DBClusterMembers"]]
    r = one_instance(w["reader"])
    st["A2"] = bool(r) and r["AvailabilityZone"] == "ap-northeast-1c" \
        and not r.get("PubliclyAccessible") and r["DBInstanceClass"] == "db.t2.small" \
        and r["DBInstanceStatus"] == "available"
    st["A3"] = bool(c) and bool(c.get("Endpoint")) and bool(c.get("ReaderEndpoint"))
    writer = [m["DBInstanceIdentifier"] for m in (c or {}).get("DBClusterMembers", []) if m["IsClusterWriter"]]
    rds.describe_events(SourceType="db-cluster", SourceIdentifier=w["cluster"], Duration=20160)
    st["A7"] = writer == [w["reader"]]
    img = first(ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [w["ami"]]}])["Images"])
    web1 = instances(w["web1"])
    st["B1"] = bool(img) and img.get("Description") == w["ami"] and img["State"] == "available" \
        and bool(web1) and img.get("SourceInstanceId") in (None, web1[0]["InstanceId"])
    vpc = first(ec2.describe_vpcs(Filters=by_name(w["vpc"]))["Vpcs"])
    vpc_id = vpc["VpcId"] if vpc else None
    web2 = instances(w["web2"])
    ok = bool(web2) and bool(img)
    if ok:
        i = web2[0]
        subnet = first(ec2.describe_subnets(SubnetIds=[i["SubnetId"]])["Subnets"])
        groups = [g["GroupName"] for g in i.get("SecurityGroups", [])] + [
            g["GroupName"] for n in i.get("NetworkInterfaces", []) for g in n.get("Groups", [])]
        ok = i["ImageId"] == img["ImageId"] and i["InstanceType"] == "t2.micro" \
            and i.get("VpcId") == vpc_id and subnet is not None \
            and subnet["CidrBlock"] == "10.0.1.0/24" and subnet["AvailabilityZone"] == "ap-northeast-1c" \
            and w["web_sg"] in groups and i.get("KeyName") == w["key"] and i["State"]["Name"] == "running"
    st["B2"] = ok
    try:
        lb = first(elb.describe_load_balancers(Names=[w["alb"]])["LoadBalancers"])
    except ClientError:
        lb = None
    st["C1"] = bool(lb) and lb["Scheme"] == "internet-facing" and lb.get("VpcId") == vpc_id \
        and {"ap-northeast-1c", "ap-northeast-1d"} <= {z["ZoneName"] for z in lb["AvailabilityZones"]} \
        and lb["State"]["Code"] == "active"
    alb = sg(w["alb_sg"], vpc_id)
    st["C2"] = bool(lb) and bool(alb) and alb["GroupId"] in lb.get("SecurityGroups", []) \
        and "0.0.0.0/0" in allowed(alb, 80)[0]
    try:
        tg = first(elb.describe_target_groups(Names=[w["tg"]])["TargetGroups"])
    except ClientError:
        tg = None
    ok = bool(tg)
    if ok:
        health = {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in
                  elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]}
        ids = [x[0]["InstanceId"] for x in (web1, web2) if x]
        ok = len(ids) == 2 and all(health.get(i) == "healthy" for i in ids)
    st["C3"] = ok
    ok = bool(lb) and bool(tg)
    if ok:
        listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        ok = any(l["Port"] == 80 and any(a.get("TargetGroupArn") == tg["TargetGroupArn"]
                                          for a in l["DefaultActions"]) for l in listeners)
    st["C4"] = ok
    web = sg(w["web_sg"], vpc_id)
    if web:
        cidrs, groups = allowed(web, 80)
        st["E1"] = not cidrs and bool(alb) and groups == [alb["GroupId"]]
    else:
        st["E1"] = False
    return st


def main():
    started = time.monotonic()
    passed = failed = 0
    for user in sys.argv[1:]:
        for ok in check(user).values():
            passed += ok
            failed += not ok
    print(json.dumps({"trainees": len(sys.argv) - 1, "calls": CALLS, "pass": passed,
                      "fail": failed, "seconds": round(time.monotonic() - started, 3)}))


if __name__ == "__main__":
    main()
