"""The CAdxWebServiceXmlCC SOAP surface: its RPC/encoded WSDL, request envelopes in, CAdxResultXml out."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

WSS = "http://www.adonix.com/WSS"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_PATH = "/soap-wsdl/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC"
ENDPOINT_PATH = "/soap-generic/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC"

# operation -> its parameters after callContext and publicName (sage.md §1.1 [C]).
OPERATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "run": (("inputXml", "xsd:string"),),
    "save": (("objectXml", "xsd:string"),),
    "read": (("objectKeys", "impl:ArrayOfCAdxParamKeyValue"),),
    "query": (("objectKeys", "impl:ArrayOfCAdxParamKeyValue"), ("listSize", "xsd:int")),
    "modify": (("objectKeys", "impl:ArrayOfCAdxParamKeyValue"), ("objectXml", "xsd:string")),
    "delete": (("objectKeys", "impl:ArrayOfCAdxParamKeyValue"),),
}

_TYPES = """
   <complexType name="CAdxCallContext"><sequence>
     <element name="codeLang" nillable="true" type="xsd:string"/>
     <element name="poolAlias" nillable="true" type="xsd:string"/>
     <element name="poolId" nillable="true" type="xsd:string"/>
     <element name="requestConfig" nillable="true" type="xsd:string"/>
   </sequence></complexType>
   <complexType name="CAdxMessage"><sequence>
     <element name="type" nillable="true" type="xsd:string"/>
     <element name="message" nillable="true" type="xsd:string"/>
   </sequence></complexType>
   <complexType name="ArrayOfCAdxMessage"><complexContent><restriction base="soapenc:Array">
     <attribute ref="soapenc:arrayType" wsdl:arrayType="impl:CAdxMessage[]"/>
   </restriction></complexContent></complexType>
   <complexType name="CAdxTechnicalInfos"><sequence>
     <element name="busy" type="xsd:boolean"/>
     <element name="changeLanguage" type="xsd:boolean"/>
     <element name="changeUserId" type="xsd:boolean"/>
     <element name="flushAdx" type="xsd:boolean"/>
     <element name="loadWebsDuration" type="xsd:double"/>
     <element name="nbDistributionCycle" type="xsd:int"/>
     <element name="poolDistribDuration" type="xsd:double"/>
     <element name="poolEntryIdx" type="xsd:int"/>
     <element name="poolExecDuration" type="xsd:double"/>
     <element name="poolRequestDuration" type="xsd:double"/>
     <element name="poolWaitDuration" type="xsd:double"/>
     <element name="processReport" nillable="true" type="xsd:string"/>
     <element name="reloadWebs" type="xsd:boolean"/>
     <element name="resumitAfterDBOpen" type="xsd:boolean"/>
     <element name="totalDuration" type="xsd:double"/>
     <element name="traceRequest" nillable="true" type="xsd:string"/>
   </sequence></complexType>
   <complexType name="CAdxResultXml"><sequence>
     <element name="messages" nillable="true" type="impl:ArrayOfCAdxMessage"/>
     <element name="resultXml" nillable="true" type="xsd:string"/>
     <element name="status" type="xsd:int"/>
     <element name="technicalInfos" nillable="true" type="impl:CAdxTechnicalInfos"/>
   </sequence></complexType>
   <complexType name="CAdxParamKeyValue"><sequence>
     <element name="key" nillable="true" type="xsd:string"/>
     <element name="value" nillable="true" type="xsd:string"/>
   </sequence></complexType>
   <complexType name="ArrayOfCAdxParamKeyValue"><complexContent><restriction base="soapenc:Array">
     <attribute ref="soapenc:arrayType" wsdl:arrayType="impl:CAdxParamKeyValue[]"/>
   </restriction></complexContent></complexType>"""

_BODY = ('<wsdlsoap:body encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" '
         f'namespace="{WSS}" use="encoded"/>')


def wsdl(base_url: str) -> str:
    """The WSDL as Syracuse publishes it: RPC/encoded, soapenc arrays, unqualified parts."""
    messages, port_ops, binding_ops = [], [], []
    for op, extra in OPERATIONS.items():
        parts = [("callContext", "impl:CAdxCallContext"), ("publicName", "xsd:string"), *extra]
        part_xml = "".join(f'<wsdl:part name="{n}" type="{t}"/>' for n, t in parts)
        messages.append(f'<wsdl:message name="{op}Request">{part_xml}</wsdl:message>'
                        f'<wsdl:message name="{op}Response"><wsdl:part name="{op}Return" '
                        f'type="impl:CAdxResultXml"/></wsdl:message>')
        order = " ".join(n for n, _ in parts)
        port_ops.append(f'<wsdl:operation name="{op}" parameterOrder="{order}">'
                        f'<wsdl:input message="impl:{op}Request" name="{op}Request"/>'
                        f'<wsdl:output message="impl:{op}Response" name="{op}Response"/></wsdl:operation>')
        binding_ops.append(f'<wsdl:operation name="{op}"><wsdlsoap:operation soapAction=""/>'
                           f'<wsdl:input name="{op}Request">{_BODY}</wsdl:input>'
                           f'<wsdl:output name="{op}Response">{_BODY}</wsdl:output></wsdl:operation>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions targetNamespace="{WSS}" xmlns:impl="{WSS}" xmlns:intf="{WSS}"
  xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
  xmlns:wsdlsoap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
 <wsdl:types>
  <schema targetNamespace="{WSS}" xmlns="http://www.w3.org/2001/XMLSchema">
   <import namespace="http://schemas.xmlsoap.org/soap/encoding/"/>{_TYPES}
  </schema>
 </wsdl:types>
 {''.join(messages)}
 <wsdl:portType name="CAdxWebServiceXmlCC">{''.join(port_ops)}</wsdl:portType>
 <wsdl:binding name="CAdxWebServiceXmlCCSoapBinding" type="impl:CAdxWebServiceXmlCC">
  <wsdlsoap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>{''.join(binding_ops)}
 </wsdl:binding>
 <wsdl:service name="CAdxWebServiceXmlCCService">
  <wsdl:port binding="impl:CAdxWebServiceXmlCCSoapBinding" name="CAdxWebServiceXmlCC">
   <wsdlsoap:address location="{escape(base_url.rstrip('/') + ENDPOINT_PATH)}"/>
  </wsdl:port>
 </wsdl:service>
</wsdl:definitions>"""


class EnvelopeError(ValueError):
    """The request is not a CAdxWebServiceXmlCC call (answered with a SOAP Fault)."""


@dataclass
class Call:
    """One decoded request."""

    operation: str
    context: dict[str, str]
    public_name: str
    params: dict[str, str] = field(default_factory=dict)
    keys: list[tuple[str, str]] = field(default_factory=list)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_call(raw: bytes) -> Call:
    """Decode an envelope; `href="#id"` references (Axis multiRef style) are followed."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise EnvelopeError(f"not XML: {exc}") from None
    body = next((c for c in root if _local(c.tag) == "Body"), None)
    if _local(root.tag) != "Envelope" or body is None or not len(body):
        raise EnvelopeError("no SOAP Envelope/Body")
    refs = {node.get("id"): node for node in body if node.get("id")}

    def deref(node: ET.Element) -> ET.Element:
        href = node.get("href", "")
        return refs.get(href[1:], node) if href.startswith("#") else node

    op_node = body[0]
    operation = _local(op_node.tag)
    if operation not in OPERATIONS:
        raise EnvelopeError(f"unknown operation {operation}")
    call = Call(operation, {}, "")
    for child in op_node:
        child, name = deref(child), _local(child.tag)
        if name == "callContext":
            call.context = {_local(c.tag): (c.text or "") for c in child}
        elif name == "publicName":
            call.public_name = (child.text or "").strip()
        elif name == "objectKeys":
            for item in child:
                item = deref(item)
                kv = {_local(c.tag): (c.text or "") for c in item}
                call.keys.append((kv.get("key", ""), kv.get("value", "")))
        else:
            call.params[name] = child.text or ""
    return call


def result(operation: str, status: int, messages: list[tuple[int, str]], result_xml: str | None,
           duration_ms: float = 1.0) -> str:
    """A CAdxResultXml envelope shaped like Syracuse's: messages as multiRef soapenc items."""
    refs = "".join(f'<messages href="#id{i}"/>' for i in range(len(messages)))
    multi = "".join(
        f'<multiRef id="id{i}" soapenc:root="0" soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" '
        f'xsi:type="wss:CAdxMessage"><type xsi:type="xsd:string">{kind}</type>'
        f'<message xsi:type="xsd:string">{escape(text)}</message></multiRef>'
        for i, (kind, text) in enumerate(messages))
    body = ('<resultXml xsi:type="xsd:string" xsi:nil="true"/>' if result_xml is None
            else f'<resultXml xsi:type="xsd:string">{escape(result_xml)}</resultXml>')
    tech = "".join(f'<{name} xsi:type="xsd:{kind}">{value}</{name}>' for name, kind, value in (
        ("busy", "boolean", "false"), ("changeLanguage", "boolean", "false"), ("changeUserId", "boolean", "false"),
        ("flushAdx", "boolean", "false"), ("loadWebsDuration", "double", "0"), ("nbDistributionCycle", "int", "-1"),
        ("poolDistribDuration", "double", "0"), ("poolEntryIdx", "int", "1"),
        ("poolExecDuration", "double", f"{duration_ms:.0f}"), ("poolRequestDuration", "double", "-1"),
        ("poolWaitDuration", "double", "0"))) + '<processReport xsi:type="xsd:string" xsi:nil="true"/>' + "".join(
        f'<{name} xsi:type="xsd:{kind}">{value}</{name}>' for name, kind, value in (
            ("reloadWebs", "boolean", "false"), ("resumitAfterDBOpen", "boolean", "false"),
            ("totalDuration", "double", f"{duration_ms:.0f}"), ("traceRequest", "string", "")))
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:wss="{WSS}"><soapenv:Body>'
            f'<wss:{operation}Response soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
            f'<{operation}Return xsi:type="wss:CAdxResultXml">'
            f'<messages xsi:type="soapenc:Array" soapenc:arrayType="wss:CAdxMessage[{len(messages)}]">{refs}</messages>'
            f'{body}<status xsi:type="xsd:int">{status}</status>'
            f'<technicalInfos xsi:type="wss:CAdxTechnicalInfos">{tech}</technicalInfos>'
            f'</{operation}Return></wss:{operation}Response>{multi}</soapenv:Body></soapenv:Envelope>')


def fault(text: str, code: str = "soapenv:Server") -> str:
    """A SOAP 1.1 Fault, as the web server answers when the call never reached an X3 process."""
    return (f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
            f'<soapenv:Fault><faultcode>{code}</faultcode><faultstring>{escape(text)}</faultstring>'
            '</soapenv:Fault></soapenv:Body></soapenv:Envelope>')
