import asyncio
import email.mime.multipart
import http.client
import xml.etree.ElementTree as ET


def test_xml():
    assert ET.fromstring("<a><b/></a>").find("b") is not None


def test_asyncio():
    assert asyncio.run(asyncio.sleep(0, result=3)) == 3


def test_email():
    assert email.mime.multipart.MIMEMultipart()["Content-Type"].startswith("multipart/")


def test_http():
    assert http.client.OK == 200
