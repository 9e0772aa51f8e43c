import { render } from "preact";
import { Console } from "./app";
import "../style.css";
import "./console.css";

render(<Console />, document.getElementById("app")!);
